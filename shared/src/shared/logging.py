"""Structured logs (structlog, JSON lines) that never carry a customer's phone number.

Every record, from our code or from libraries through the standard logging module, passes the
redaction step: anything shaped like a Chinese mobile or landline number is masked, and fields
named like a phone are dropped to their last four digits.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# Mobile numbers (optionally +86 / 0086), landlines with an area code, 400/800 service numbers.
_PHONE_RE = re.compile(
    r"(?<!\d)(?:(?:\+|00)?86[-\s]?)?(?:1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}|0\d{2,3}[-\s]?\d{7,8})(?!\d)"
)
_PHONE_KEYS = {"phone", "customer_phone", "mobile", "tel", "telephone", "phone_number"}


def mask_phone(value: str) -> str:
    """Keep only the last four digits: what a specialist may read aloud to confirm a caller."""
    digits = re.sub(r"\D", "", value)
    return f"***{digits[-4:]}" if len(digits) >= 4 else "***"


def redact(value: Any) -> Any:
    """Mask phone-shaped substrings anywhere inside strings, lists and dicts."""
    if isinstance(value, str):
        return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), value)
    if isinstance(value, dict):
        return {k: (mask_phone(str(v)) if k in _PHONE_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def _redact_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    redacted: dict[str, Any] = redact(event_dict)
    return redacted


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the sys.stdout of the moment, like logging's own last-resort handler does for stderr.

    A handler that kept the stream it was given at configuration goes on writing to it after its owner
    closed it (pytest's capture of one test, a redirected stdout), and every later record then ends
    in "--- Logging error --- ValueError: I/O operation on closed file".
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stdout


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard logging module through one redacting JSON renderer."""
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Dropping disabled levels first keeps debug logging free on hot paths.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=shared_processors,
    )
    handler = _StdoutHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries speak only when something is wrong; our own loggers follow `level`.
    for noisy in ("aiokafka", "faust", "mode", "kafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
