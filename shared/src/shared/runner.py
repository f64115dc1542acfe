"""Run a service's FastAPI app under uvicorn with the shared logging set up first."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.config import ServiceSettings
from shared.http.server import Server, server_config
from shared.logging import configure_logging


def run(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    Server(server_for(create_app(settings), settings)).run()


def server_for(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    """The server of a service. Behind a proxy (the console, an ingress) the client address comes from
    X-Forwarded-For, trusted only from the proxies a deployment names (none by default: otherwise any
    caller on the host could pick its own address, and with it its rate limit)."""
    trusted = [ip.strip() for ip in settings.forwarded_allow_ips.split(",") if ip.strip()]
    return server_config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        timeout_graceful_shutdown=10,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
    )
