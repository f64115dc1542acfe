"""The headers a dead letter carries: written by every consumer, read and stripped by operations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

# Where the message came from; the original key and value travel unchanged.
ORIGIN_HEADERS = ("original_topic", "original_partition", "original_offset", "original_event_id")
# Why and when it was parked, and by whom.
CAUSE_HEADERS = ("exc_class", "exc_msg", "service", "attempts", "failed_at")
DEAD_LETTER_HEADERS = ORIGIN_HEADERS + CAUSE_HEADERS

EXC_MSG_LIMIT = 2000


def dead_letter_headers(
    *,
    topic: str,
    partition: int,
    offset: int,
    event_id: str | None,
    exc: BaseException,
    service: str,
    attempts: int,
    failed_at: datetime,
) -> list[tuple[str, bytes]]:
    """The headers of ORIGIN_HEADERS and CAUSE_HEADERS, in that order (topic without the test prefix)."""
    values = (
        topic,
        partition,
        offset,
        event_id or "",
        type(exc).__name__,
        str(exc)[:EXC_MSG_LIMIT],
        service,
        attempts,
        failed_at.isoformat(),
    )
    return [(name, str(value).encode()) for name, value in zip(DEAD_LETTER_HEADERS, values, strict=True)]


def without_dead_letter_headers(headers: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The message's own headers: what a dead letter or a replay of one carries on."""
    return [(k, v) for k, v in headers if not k.startswith("original_") and k not in CAUSE_HEADERS]
