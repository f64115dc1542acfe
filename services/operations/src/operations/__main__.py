"""`python -m operations`: run the operations page and API (settings from the environment)."""

from __future__ import annotations

from operations.config import OperationsSettings
from operations.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, OperationsSettings())


if __name__ == "__main__":
    main()
