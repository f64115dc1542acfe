"""The topic registry is consistent, and every example in it is a valid event."""

from __future__ import annotations

import re

import pytest

from shared.contracts.envelope import Envelope, decode, encode, make_envelope, validate_payload
from shared.contracts.registry import load_registry

REGISTRY = load_registry()
SERVICES = {
    "intake",
    "dispatch",
    "warranty",
    "parts",
    "engineering",
    "operations",
    "console",
    "notifications",
}


def test_topic_names_carry_owner_and_major_version() -> None:
    for t in REGISTRY.topics:
        assert re.fullmatch(r"[a-z]+\.[a-z\-]+\.v\d+", t.name), t.name
        assert t.name.startswith(f"{t.owner}."), f"{t.name} is written by {t.owner}: name it after its owner"
        assert t.partitions >= 1 and t.retention_days >= 1


def test_every_consumer_and_owner_is_a_known_service() -> None:
    for t in REGISTRY.topics:
        assert t.owner in SERVICES
        assert set(t.consumers) <= SERVICES, t.name


def test_each_event_type_has_exactly_one_topic() -> None:
    seen: dict[str, str] = {}
    for t in REGISTRY.topics:
        for e in t.events:
            assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+", e.type), e.type
            assert seen.setdefault(e.type, t.name) == t.name, f"{e.type} on two topics"


def test_every_consumed_topic_has_a_producer_and_events() -> None:
    for t in REGISTRY.topics:
        if t.dead_letters:
            continue
        assert t.events, f"{t.name} carries no events"
        assert t.consumers, f"{t.name} has no consumer: nobody needs it"


def test_every_consuming_service_has_a_dead_letter_topic() -> None:
    consumers = {c for t in REGISTRY.topics if not t.dead_letters for c in t.consumers}
    for service in consumers - {"operations", "console"}:
        assert REGISTRY.dead_letter_topic(service).dead_letters


@pytest.mark.parametrize(
    ("topic", "spec", "example"),
    [(t, e, x) for t in REGISTRY.topics for e in t.events for x in e.examples],
    ids=lambda v: getattr(v, "name", getattr(v, "type", None)) or "example",
)
def test_every_example_is_a_valid_event(topic, spec, example) -> None:
    payload = spec.payload_model.model_validate(example["payload"])
    env = make_envelope(
        payload,
        event_type=spec.type,
        schema_version=spec.schema_version,
        correlation_id=example["correlation_id"],
        producer=topic.owner,
    )
    again = decode(encode(env))
    assert isinstance(again, Envelope)
    assert validate_payload(again, spec.payload_model) == payload
    assert REGISTRY.topic_of(spec.type) is topic


def test_every_event_type_has_an_example() -> None:
    for t in REGISTRY.topics:
        for e in t.events:
            assert e.examples, f"{e.type} has no example in topics.yaml"


def test_checked_in_asyncapi_document_is_current() -> None:
    from shared.contracts.asyncapi import DOC_PATH, render
    from shared.testing.backends import repo_root

    current = (repo_root() / DOC_PATH).read_text(encoding="utf-8")
    assert current == render(), "docs/asyncapi.yaml is stale: run `make contracts`"
