"""`python -m intake`: run the intake service (settings from the environment)."""

from __future__ import annotations

from intake.config import IntakeSettings
from intake.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, IntakeSettings())


if __name__ == "__main__":
    main()
