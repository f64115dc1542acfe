"""The topic registry (topics.yaml) loaded into typed specs, with the lookups services need."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from shared.contracts.base import Contract

ContractType = type[Contract]  # `type` is a field name below, so the builtin gets a name of its own


@dataclass(frozen=True)
class EventSpec:
    type: str
    schema_version: int
    payload_model: ContractType
    examples: tuple[dict[str, Any], ...] = ()
    # The payload fields the message key is taken from: the first one set (the topic's key by default).
    key: tuple[str, ...] = ()

    def key_of(self, payload: Mapping[str, Any]) -> str:
        """The message key of an event with this payload, as the registry names it."""
        for name in self.key:
            value = payload.get(name)
            if value not in (None, ""):
                return str(value)
        raise MissingKey(
            f"{self.type} v{self.schema_version} has none of its key fields set: {', '.join(self.key)}"
        )


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    key: str
    partitions: int
    retention_days: int
    consumers: tuple[str, ...]
    description: str
    events: tuple[EventSpec, ...] = field(default=())
    dead_letters: bool = False

    @property
    def retention_ms(self) -> int:
        return self.retention_days * 24 * 3600 * 1000

    def event(self, event_type: str, schema_version: int) -> EventSpec | None:
        for e in self.events:
            if e.type == event_type and e.schema_version == schema_version:
                return e
        return None


class UnknownEventType(KeyError):
    pass


class MissingKey(ValueError):
    """An event without the payload field its topic is keyed by."""


@dataclass(frozen=True)
class TopicRegistry:
    topics: tuple[TopicSpec, ...]

    def get(self, name: str) -> TopicSpec:
        for t in self.topics:
            if t.name == name:
                return t
        raise KeyError(f"topic {name!r} is not in the registry")

    def topic_of(self, event_type: str) -> TopicSpec:
        """The one topic an event type is published to (one writer per topic)."""
        for t in self.topics:
            if any(e.type == event_type for e in t.events):
                return t
        raise UnknownEventType(event_type)

    def event_spec(self, event_type: str, schema_version: int) -> EventSpec:
        spec = self.topic_of(event_type).event(event_type, schema_version)
        if spec is None:
            raise UnknownEventType(f"{event_type} v{schema_version}")
        return spec

    def consumed_by(self, service: str) -> tuple[TopicSpec, ...]:
        return tuple(t for t in self.topics if service in t.consumers)

    def owned_by(self, service: str) -> tuple[TopicSpec, ...]:
        return tuple(t for t in self.topics if t.owner == service)

    def dead_letter_topic(self, service: str) -> TopicSpec:
        return self.get(dead_letter_topic_name(service))


def dead_letter_topic_name(service: str) -> str:
    return f"{service}.dead-letters.v1"


def _import_model(path: str) -> type[Contract]:
    module, _, name = path.partition(":")
    model = getattr(importlib.import_module(module), name)
    if not (isinstance(model, type) and issubclass(model, Contract)):
        raise TypeError(f"{path} is not a payload model (a shared.contracts.base.Contract)")
    return model


def _key_fields(declared: str | list[str]) -> tuple[str, ...]:
    return (declared,) if isinstance(declared, str) else tuple(declared)


def parse_registry(data: dict[str, Any]) -> TopicRegistry:
    topics: list[TopicSpec] = []
    for t in data["topics"]:
        events = tuple(
            EventSpec(
                type=e["type"],
                schema_version=int(e["schema_version"]),
                payload_model=_import_model(e["payload"]),
                examples=tuple(e.get("examples", ())),
                key=_key_fields(e.get("key", t["key"])),
            )
            for e in t["events"]
        )
        topics.append(
            TopicSpec(
                name=t["name"],
                owner=t["owner"],
                key=t["key"],
                partitions=int(t["partitions"]),
                retention_days=int(t["retention_days"]),
                consumers=tuple(t.get("consumers", ())),
                description=t.get("description", ""),
                events=events,
            )
        )
    dl = data.get("dead_letters") or {}
    for service in dl.get("services", ()):
        topics.append(
            TopicSpec(
                name=dead_letter_topic_name(service),
                owner=service,
                key="original key",
                partitions=int(dl["partitions"]),
                retention_days=int(dl["retention_days"]),
                consumers=("operations",),
                description=f"Messages {service} could not process, with the cause in the headers.",
                dead_letters=True,
            )
        )
    return TopicRegistry(tuple(topics))


@cache
def load_registry() -> TopicRegistry:
    text = resources.files("shared.contracts").joinpath("topics.yaml").read_text(encoding="utf-8")
    return parse_registry(yaml.safe_load(text))
