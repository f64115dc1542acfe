"""`python -m engineering`: run the engineering service (settings from the environment)."""

from __future__ import annotations

from engineering.config import EngineeringSettings
from engineering.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, EngineeringSettings())


if __name__ == "__main__":
    main()
