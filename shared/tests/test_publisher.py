"""The publisher sends only what its service owns in topics.yaml, keyed as the registry names it."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import ServiceSettings
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.registry import load_registry
from shared.kafka.publisher import EventPublisher, NotPublishable

REGISTRY = load_registry()


def example(event_type: str, **changes: Any) -> Envelope:
    spec = REGISTRY.event_spec(event_type, 1)
    first = spec.examples[0]
    payload = spec.payload_model.model_validate(first["payload"] | changes)
    return make_envelope(
        payload,
        event_type=event_type,
        schema_version=1,
        correlation_id=first["correlation_id"],
        producer=REGISTRY.topic_of(event_type).owner,
    )


class Recording(EventPublisher):
    """The real routing, with the broker replaced by a list."""

    def __init__(self, service: str) -> None:
        super().__init__(ServiceSettings(service_name=service, topic_prefix="t1."))
        self.sent: list[tuple[str, bytes | None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Any = ()) -> Any:
        self.sent.append((topic, key))


@pytest.mark.parametrize(
    ("event_type", "stranger"),
    [
        ("case.assigned", "warranty"),
        ("warranty.decided", "dispatch"),
        ("complaint.received", "console"),
        ("installation.accepted", "operations"),
    ],
)
async def test_a_service_cannot_publish_another_service_s_events(event_type, stranger) -> None:
    publisher = Recording(stranger)
    with pytest.raises(NotPublishable, match=f"belongs to {REGISTRY.topic_of(event_type).owner}"):
        await publisher.publish(example(event_type))
    assert publisher.sent == []


async def test_an_event_version_the_registry_does_not_list_is_refused() -> None:
    publisher = Recording("dispatch")
    unlisted = example("case.assigned").model_copy(update={"schema_version": 2})
    with pytest.raises(NotPublishable, match="case.assigned v2"):
        await publisher.publish(unlisted)
    assert publisher.sent == []


async def test_the_key_is_the_payload_field_the_registry_names() -> None:
    dispatch = Recording("dispatch")
    assigned = example("case.assigned")
    # The key comes from the payload, whatever the envelope's correlation id says.
    await dispatch.publish(assigned.model_copy(update={"correlation_id": "something else"}))
    assert dispatch.sent == [("t1.dispatch.cases.v1", assigned.payload["case_id"].encode())]

    engineering = Recording("engineering")
    await engineering.publish(example("project.opened"))
    assert engineering.sent == [("t1.engineering.projects.v1", b"P-2026-017")]

    parts = Recording("parts")
    await parts.publish(example("purchase.requested"))
    await parts.publish(example("purchase.requested", case_id=None))  # a restock for no case: its own number
    assert parts.sent == [("t1.parts.requests.v1", b"YD-2P8R4TN6CD"), ("t1.parts.requests.v1", b"PUR-1")]


def test_every_declared_key_is_a_field_of_its_payload_and_one_is_always_set() -> None:
    for topic in REGISTRY.topics:
        for event in topic.events:
            fields = event.payload_model.model_fields
            assert event.key and set(event.key) <= set(fields), (event.type, event.key)
            assert any(
                fields[name].is_required() and "None" not in str(fields[name].annotation)
                for name in event.key
            ), f"{event.type}: no key field is always set"
            for x in event.examples:
                assert event.key_of(x["payload"]) == x["correlation_id"], event.type
