"""The envelope every Kafka message carries, and its wire codec (orjson)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.contracts.base import Contract
from shared.requestid import current_request_id

# Namespace for event ids derived from another event: re-handling the same cause yields the same id,
# so a consumer that republishes after a crash produces a duplicate its own consumers recognise.
_DERIVED_NS = uuid.UUID("6f1c2a4e-8b9d-4c3e-9a51-0d7e5b2f8a10")

CONTENT_TYPE = b"application/vnd.yingde.event+json"


class InvalidMessage(Exception):
    """A message that can never be processed as it is: it goes to the dead letters at once."""


class Envelope(BaseModel):
    """Metadata around every event; `payload` is validated against the model of `event_type`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(description="Unique id of this event; consumers deduplicate by it.")
    event_type: str = Field(description="What happened, past tense: complaint.received, case.assigned.")
    schema_version: int = Field(ge=1, description="Major version of the payload schema.")
    occurred_at: AwareDatetime = Field(description="When it happened (UTC).")
    correlation_id: str = Field(description="The case id (or project id) this event belongs to.")
    causation_id: uuid.UUID | None = Field(default=None, description="The event that caused this one.")
    producer: str = Field(description="The service that published it.")
    payload: dict[str, Any]


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def derived_event_id(cause: uuid.UUID | str, purpose: str) -> uuid.UUID:
    """A deterministic id for the event that `cause` leads to (one per purpose)."""
    return uuid.uuid5(_DERIVED_NS, f"{cause}:{purpose}")


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_envelope(
    payload: Contract,
    *,
    event_type: str,
    schema_version: int,
    correlation_id: str,
    producer: str,
    event_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """An event; without a cause of its own, the HTTP request being served caused it."""
    return Envelope(
        event_id=event_id or new_event_id(),
        event_type=event_type,
        schema_version=schema_version,
        occurred_at=occurred_at or utcnow(),
        correlation_id=correlation_id,
        causation_id=causation_id or current_request_id(),
        producer=producer,
        payload=payload.model_dump(mode="json"),
    )


def envelopes_for(
    events: list[tuple[str, Contract]],
    *,
    correlation_id: str,
    producer: str,
    now: datetime,
    cause: uuid.UUID | None = None,
    schema_version: int | None = None,
) -> list[Envelope]:
    """Envelopes for the events of one change. Caused by a consumed event, their ids derive from it,
    so handling that event again after a crash republishes the same ids, which consumers recognise.
    Caused by an HTTP request, the request id is their causation_id (never their ids' seed: two
    changes in one request must not share an id). Each carries its payload model's SCHEMA_VERSION
    unless `schema_version` says otherwise."""
    return [
        make_envelope(
            payload,
            event_type=event_type,
            schema_version=schema_version or payload.SCHEMA_VERSION,
            correlation_id=correlation_id,
            producer=producer,
            event_id=derived_event_id(cause, f"{event_type}:{i}") if cause else None,
            causation_id=cause,
            occurred_at=now,
        )
        for i, (event_type, payload) in enumerate(events)
    ]


def encode(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.model_dump(mode="json"))


def headers_for(envelope: Envelope) -> list[tuple[str, bytes]]:
    """Kafka headers: routing and tracing without parsing the value."""
    headers = [
        ("event_type", envelope.event_type.encode()),
        ("event_id", str(envelope.event_id).encode()),
        ("schema_version", str(envelope.schema_version).encode()),
        ("correlation_id", envelope.correlation_id.encode()),
        ("content-type", CONTENT_TYPE),
    ]
    if envelope.causation_id is not None:
        headers.append(("causation_id", str(envelope.causation_id).encode()))
    return headers


def decode(raw: bytes | None) -> Envelope:
    """Parse a message value into an envelope; anything unreadable is an InvalidMessage."""
    if raw is None:
        raise InvalidMessage("empty message value (tombstone) where an event was expected")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidMessage("value is not a JSON object")
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        raise InvalidMessage(f"envelope invalid: {_first_errors(exc)}") from exc


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:limit]]
    return "; ".join(parts)


def validate_payload(envelope: Envelope, model: type[Contract]) -> Contract:
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise InvalidMessage(
            f"payload of {envelope.event_type} v{envelope.schema_version} invalid: {_first_errors(exc)}"
        ) from exc
