"""The JSON Schema of every published event version, generated into docs/schemas/<type>.v<N>.json.

    python -m shared.contracts.schemas            say what is stale or breaking (exit 1 if anything is)
    python -m shared.contracts.schemas --write    write the schemas; a breaking change is refused

Generated from the payload models and topics.yaml. A test fails when a file is stale, and when the
models changed a published version in a way a consumer could not read (shared.contracts.compat):
such a change is a new schema_version of the event, never an edit of the published one, so --write
will not overwrite it either.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.contracts.compat import Break, breaking_changes
from shared.contracts.registry import EventSpec, TopicRegistry, TopicSpec, load_registry

SCHEMA_DIR = Path("docs") / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def file_name(event: EventSpec) -> str:
    return f"{event.type}.v{event.schema_version}.json"


def schema_of(topic: TopicSpec, event: EventSpec) -> dict[str, Any]:
    """The payload's JSON Schema, with where and how the event is published."""
    payload = event.payload_model.model_json_schema()
    return {
        "$schema": DIALECT,
        "$id": file_name(event),
        "title": f"{event.type} v{event.schema_version}",
        "description": payload.pop("description", event.type),
        "x-event-type": event.type,
        "x-schema-version": event.schema_version,
        "x-topic": topic.name,
        "x-owner": topic.owner,
        "x-key": list(event.key),
        "x-payload-model": f"{event.payload_model.__module__}:{event.payload_model.__qualname__}",
        **{k: v for k, v in payload.items() if k != "title"},
        "examples": [x["payload"] for x in event.examples],
    }


def render(registry: TopicRegistry | None = None) -> dict[str, str]:
    """File name → text of every schema, in registry order."""
    registry = registry or load_registry()
    return {
        file_name(event): json.dumps(schema_of(topic, event), ensure_ascii=False, indent=2) + "\n"
        for topic in registry.topics
        for event in topic.events
    }


@dataclass
class Check:
    """How the committed schemas differ from what the models generate."""

    missing: list[str] = field(default_factory=list)  # a new event version: write it
    stale: list[str] = field(default_factory=list)  # changed compatibly: write it
    breaking: dict[str, list[Break]] = field(default_factory=dict)  # changed incompatibly: a new version
    orphaned: list[str] = field(default_factory=list)  # a version the registry no longer lists

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.breaking or self.orphaned)

    def report(self) -> str:
        lines = [f"missing: {n}" for n in self.missing] + [f"stale: {n}" for n in self.stale]
        lines += [f"not in topics.yaml any more: {n}" for n in self.orphaned]
        for name, breaks in self.breaking.items():
            lines.append(f"BREAKING {name} (publish a new schema_version of the event instead):")
            lines += [f"  - {b}" for b in breaks]
        return "\n".join(lines)


def check(directory: Path, generated: dict[str, str] | None = None) -> Check:
    generated = generated if generated is not None else render()
    result = Check()
    committed = {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.json"))}
    for name, text in generated.items():
        if name not in committed:
            result.missing.append(name)
        elif committed[name] != text:
            breaks = breaking_changes(json.loads(committed[name]), json.loads(text))
            if breaks:
                result.breaking[name] = breaks
            else:
                result.stale.append(name)
    result.orphaned = [name for name in committed if name not in generated]
    return result


def write(directory: Path) -> Check:
    """Write every schema that is missing or compatibly changed; remove orphans; never a breaking change."""
    generated = render()
    result = check(directory, generated)
    directory.mkdir(parents=True, exist_ok=True)
    for name in result.missing + result.stale:
        (directory / name).write_text(generated[name], encoding="utf-8")
    for name in result.orphaned:
        (directory / name).unlink()
    return result


def main(argv: list[str]) -> int:
    if "--write" in argv:
        result = write(SCHEMA_DIR)
        for name in result.missing + result.stale:
            print(f"wrote {SCHEMA_DIR / name}")
        for name in result.orphaned:
            print(f"removed {SCHEMA_DIR / name}")
        if result.breaking:
            print(Check(breaking=result.breaking).report(), file=sys.stderr)
            return 1
        return 0
    result = check(SCHEMA_DIR)
    if not result.clean:
        print(result.report(), file=sys.stderr)
        return 1
    print(f"{SCHEMA_DIR}: every event schema is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
