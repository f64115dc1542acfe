"""`python -m parts`: run the parts service (settings from the environment)."""

from __future__ import annotations

from parts.config import PartsSettings
from parts.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, PartsSettings())


if __name__ == "__main__":
    main()
