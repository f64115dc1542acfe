"""`python -m console`: run the console (settings from the environment)."""

from __future__ import annotations

from console.config import ConsoleSettings
from console.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, ConsoleSettings())


if __name__ == "__main__":
    main()
