"""`python -m warranty`: run the warranty service (settings from the environment)."""

from __future__ import annotations

from shared.runner import run
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app


def main() -> None:
    run(create_app, WarrantySettings())


if __name__ == "__main__":
    main()
