"""The envelope's codec and its refusals."""

from __future__ import annotations

import uuid

import pytest

from shared.contracts.complaints import CategoryGuess
from shared.contracts.envelope import InvalidMessage, decode, derived_event_id, encode, make_envelope


def test_round_trip_keeps_every_field() -> None:
    cause = uuid.uuid4()
    env = make_envelope(
        CategoryGuess(category="software", confidence=0.5, evidence=["description: 升级"]),
        event_type="complaint.received",
        schema_version=1,
        correlation_id="YD-0000000001",
        producer="intake",
        causation_id=cause,
    )
    again = decode(encode(env))
    assert again == env
    assert again.causation_id == cause


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"event_id": "x"}', "envelope invalid"),
    ],
)
def test_unreadable_values_are_invalid_messages(raw, reason) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        decode(raw)


def test_derived_event_ids_are_deterministic_per_cause_and_purpose() -> None:
    cause = uuid.uuid4()
    assert derived_event_id(cause, "case.assigned") == derived_event_id(cause, "case.assigned")
    assert derived_event_id(cause, "case.assigned") != derived_event_id(cause, "case.escalated")
    assert derived_event_id(cause, "x") != derived_event_id(uuid.uuid4(), "x")
