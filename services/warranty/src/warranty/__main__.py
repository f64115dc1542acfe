"""`python -m warranty`: run the warranty service (settings from the environment)."""

from __future__ import annotations

from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, WarrantySettings())


if __name__ == "__main__":
    main()
