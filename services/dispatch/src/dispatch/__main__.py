"""`python -m dispatch`: run the dispatch service (settings from the environment)."""

from __future__ import annotations

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, DispatchSettings())


if __name__ == "__main__":
    main()
