"""`python -m notifications`: run the notifications service (settings from the environment)."""

from __future__ import annotations

from notifications.config import NotificationsSettings
from notifications.entrypoints.http import create_app
from shared.runner import run


def main() -> None:
    run(create_app, NotificationsSettings())


if __name__ == "__main__":
    main()
