"""Run a service's FastAPI app under uvicorn with the shared logging set up first."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.config import ServiceSettings
from shared.logging import configure_logging


def run(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep our redacting handler on the root logger
        access_log=False,
        timeout_graceful_shutdown=10,
        # Behind a proxy (the console, an ingress), the client address comes from X-Forwarded-For,
        # trusted only from the addresses named here; rate limits per address depend on it.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
