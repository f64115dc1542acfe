"""Generate the AsyncAPI 3.0 document of every topic and event from the registry and the models.

    python -m shared.contracts.asyncapi            print it
    python -m shared.contracts.asyncapi --write    write docs/asyncapi.yaml
A test fails when the checked-in document is not what this generates.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from shared.contracts.envelope import Envelope
from shared.contracts.registry import TopicRegistry, load_registry

DOC_PATH = Path("docs") / "asyncapi.yaml"


def _ref_fix(schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Pydantic's $defs become AsyncAPI components; rewrite their references."""
    text = yaml.safe_dump(schema, allow_unicode=True, sort_keys=True)
    fixed: dict[str, Any] = yaml.safe_load(text.replace("#/$defs/", f"#/components/schemas/{prefix}"))
    return fixed


def build(registry: TopicRegistry) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    envelope_schema = Envelope.model_json_schema()
    envelope_schema["properties"].pop("payload")
    schemas["Envelope"] = envelope_schema
    for topic in registry.topics:
        channel_id = topic.name.replace(".", "_").replace("-", "_")
        channel_messages: dict[str, Any] = {}
        for event in topic.events:
            msg_id = f"{event.type.replace('.', '_')}_v{event.schema_version}"
            model_schema = event.payload_model.model_json_schema(ref_template="#/$defs/{model}")
            for name, sub in model_schema.pop("$defs", {}).items():
                schemas[f"{name}"] = _ref_fix(sub, "")
            schemas[event.payload_model.__name__] = _ref_fix(model_schema, "")
            messages[msg_id] = {
                "name": event.type,
                "title": f"{event.type} v{event.schema_version}",
                "summary": ((event.payload_model.__doc__ or "").strip().splitlines() or [event.type])[0],
                "contentType": "application/json",
                "headers": {
                    "type": "object",
                    "properties": {
                        h: {"type": "string"}
                        for h in (
                            "event_type",
                            "event_id",
                            "schema_version",
                            "correlation_id",
                            "content-type",
                        )
                    },
                },
                "payload": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Envelope"},
                        {
                            "type": "object",
                            "properties": {
                                "event_type": {"const": event.type},
                                "schema_version": {"const": event.schema_version},
                                "payload": {"$ref": f"#/components/schemas/{event.payload_model.__name__}"},
                            },
                        },
                    ]
                },
                "examples": [
                    {"name": f"example_{i + 1}", "payload": x["payload"]}
                    for i, x in enumerate(event.examples)
                ],
                "bindings": {
                    "kafka": {
                        "key": {
                            "type": "string",
                            "description": "payload." + ", else payload.".join(event.key),
                        },
                        "bindingVersion": "0.5.0",
                    }
                },
            }
            channel_messages[msg_id] = {"$ref": f"#/components/messages/{msg_id}"}
        channels[channel_id] = {
            "address": topic.name,
            "title": topic.name,
            "description": topic.description,
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {"retention.ms": topic.retention_ms},
                    "bindingVersion": "0.5.0",
                }
            },
            "x-owner": topic.owner,
            "x-key": topic.key,
            "x-consumers": list(topic.consumers),
        }
        operations[f"{topic.owner}_sends_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{topic.owner} publishes",
        }
        for consumer in topic.consumers:
            operations[f"{consumer}_receives_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{consumer} consumes",
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "英德 after-sales service platform: events",
            "version": "1.0.0",
            "description": "Generated from shared/src/shared/contracts/topics.yaml and the payload models. "
            "Do not edit: run `python -m shared.contracts.asyncapi --write`.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(registry: TopicRegistry | None = None) -> str:
    return yaml.safe_dump(build(registry or load_registry()), allow_unicode=True, sort_keys=False, width=110)


def main(argv: list[str]) -> int:
    text = render()
    if "--write" in argv:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
