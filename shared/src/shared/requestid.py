"""The id of the HTTP request being served: answered in X-Request-ID, bound into every log line, and
the causation_id of every event the request causes."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

# A caller's own request id that is not a UUID (a proxy's token, say) maps to one UUID, always the same.
_NAMESPACE = uuid.UUID("2b7f4c1e-5a93-4d0e-8c6b-91e3f0a7d254")
_PRINTABLE = re.compile(r"^[\x21-\x7e]{1,200}$")

_current: ContextVar[uuid.UUID | None] = ContextVar("request_id", default=None)


def request_id_from(header: str | None) -> uuid.UUID:
    """The request id for a request carrying `header` as X-Request-ID (a new one when it has none)."""
    if header and _PRINTABLE.match(header):
        try:
            return uuid.UUID(header)
        except ValueError:
            return uuid.uuid5(_NAMESPACE, header)
    return uuid.uuid4()


def current_request_id() -> uuid.UUID | None:
    """The request being served in this context, if any (None in consumers and background jobs)."""
    return _current.get()


def serving(request_id: uuid.UUID | None) -> object:
    """Mark this context as serving `request_id`; pass the returned token to `done`."""
    return _current.set(request_id)


def done(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
