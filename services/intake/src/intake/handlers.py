"""Intake's one command: accept a channel's complaint, durably, exactly once per idempotency key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from pymongo.errors import PyMongoError

from intake.adapters.repository import SubmissionRepository
from intake.domain.channels import ChannelInput
from intake.domain.normalise import new_case_id
from shared.contracts.envelope import make_envelope, new_event_id, utcnow
from shared.kafka.publisher import EventPublisher
from shared.logging import get_logger

log = get_logger(__name__)

EVENT_TYPE = "complaint.received"
SCHEMA_VERSION = 1


class IdempotencyConflict(Exception):
    """The key was used before with a different body."""

    def __init__(self, key: str, case_id: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for case {case_id} with a different body")
        self.case_id = case_id


class StoreUnavailable(Exception):
    """The submission store cannot be reached, so a keyed submission cannot be deduplicated."""


@dataclass(frozen=True)
class Accepted:
    case_id: str
    replayed: bool


def body_fingerprint(submission: ChannelInput) -> str:
    """Same content, same fingerprint, whatever the key order or spacing of the JSON sent."""
    canonical = orjson.dumps(submission.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def accept_complaint(
    submission: ChannelInput,
    *,
    original: dict[str, Any],
    idempotency_key: str | None,
    submissions: SubmissionRepository,
    publisher: EventPublisher,
) -> Accepted:
    """Publish complaint.received and return the case id only once Kafka acknowledged it (acks=all).

    With a key (header, or the channel's own reference such as a dealer's ticket id) the same body
    always gets the same case id and event id, so a retry after any failure cannot become a second
    case; a different body under a used key is a conflict. A replay of an acknowledged complaint
    answers what was recorded and publishes nothing.
    """
    key = idempotency_key or submission.submission_reference()
    if key is None:
        case_id, event_id, received_at = new_case_id(), new_event_id(), utcnow()
        await _publish(submission, original, case_id, event_id, received_at, publisher)
        return Accepted(case_id, replayed=False)

    scoped_key = f"{submission.channel}:{submission.principal_id()}:{key}"
    fingerprint = body_fingerprint(submission)
    try:
        record = await submissions.reserve(
            scoped_key,
            body_sha256=fingerprint,
            case_id=new_case_id(),
            event_id=new_event_id(),
            received_at=utcnow(),
        )
    except PyMongoError as exc:
        raise StoreUnavailable(str(exc)) from exc
    if record.body_sha256 != fingerprint:
        raise IdempotencyConflict(key, record.case_id)
    if record.published:
        return Accepted(record.case_id, replayed=True)  # the recorded answer; Kafka has the event once
    # Not yet acknowledged: a first attempt that crashed or timed out between reserving and the broker's
    # ack is completed by its retry, under the same event id. The reservation is never released on a
    # failed publish: a timed-out send may still have been written, and a retry under a fresh case id
    # would then become a second case.
    await _publish(submission, original, record.case_id, record.event_id, record.received_at, publisher)
    try:
        await submissions.mark_published(scoped_key, utcnow())
    except PyMongoError as exc:  # the complaint is in Kafka; a later replay only republishes the same id
        log.warning("could not record the publish", case_id=record.case_id, error=repr(exc))
    return Accepted(record.case_id, replayed=not record.created_now)


async def _publish(
    submission: ChannelInput,
    original: dict[str, Any],
    case_id: str,
    event_id: Any,
    received_at: Any,
    publisher: EventPublisher,
) -> None:
    complaint = submission.to_complaint(case_id=case_id, received_at=received_at, original=original)
    envelope = make_envelope(
        complaint,
        event_type=EVENT_TYPE,
        schema_version=SCHEMA_VERSION,
        correlation_id=case_id,
        producer="intake",
        event_id=event_id,
        occurred_at=received_at,
    )
    await publisher.publish(envelope)
    log.info(
        "complaint accepted",
        case_id=case_id,
        event_id=str(event_id),
        channel=submission.channel,
        category=complaint.category_guess.category,
    )
