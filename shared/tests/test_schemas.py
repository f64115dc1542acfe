"""Event schemas as contracts: docs/schemas is what the models generate, and a published version only
ever changes in ways every consumer can still read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from shared.contracts import schemas
from shared.contracts.registry import load_registry, parse_registry
from shared.testing.backends import repo_root

COMMITTED = repo_root() / schemas.SCHEMA_DIR
WRITE = "python -m shared.contracts.schemas --write"


def test_the_committed_event_schemas_are_current() -> None:
    result = schemas.check(COMMITTED)
    assert not (result.missing or result.stale or result.orphaned), f"{result.report()}\nrun `{WRITE}`"


def test_no_published_event_version_changed_in_a_way_that_breaks_a_consumer() -> None:
    result = schemas.check(COMMITTED)
    assert result.breaking == {}, result.report()


def test_every_event_version_of_the_registry_has_its_schema_with_where_it_is_published() -> None:
    for topic in load_registry().topics:
        for event in topic.events:
            doc = json.loads((COMMITTED / schemas.file_name(event)).read_text(encoding="utf-8"))
            assert (doc["x-event-type"], doc["x-schema-version"], doc["x-topic"], doc["x-owner"]) == (
                event.type,
                event.schema_version,
                topic.name,
                topic.owner,
            )
            assert set(doc["x-key"]) <= set(doc["properties"]) and doc["examples"], event.type


def _published_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "schemas"
    shutil.copytree(COMMITTED, directory)
    return directory


def test_write_refuses_to_overwrite_a_published_version_with_a_breaking_change(tmp_path) -> None:
    directory = _published_copy(tmp_path)
    published = directory / "case.closed.v1.json"
    # As if case.closed v1 had been published with a field the models have since dropped.
    doc = json.loads(published.read_text(encoding="utf-8"))
    doc["properties"]["closed_reason"] = {"type": "string"}
    doc["required"].append("closed_reason")
    published.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    result = schemas.write(directory)
    assert [str(b) for b in result.breaking["case.closed.v1.json"]] == [
        "closed_reason: removed: its readers lose it (a rename is a removal)"
    ]
    assert json.loads(published.read_text(encoding="utf-8")) == doc  # left as published
    assert schemas.check(directory).breaking.keys() == {"case.closed.v1.json"}


def test_a_compatible_change_is_only_stale_and_write_brings_it_up_to_date(tmp_path) -> None:
    directory = _published_copy(tmp_path)
    published = directory / "warranty.decided.v1.json"
    doc = json.loads(published.read_text(encoding="utf-8"))
    del doc["properties"]["charge_hint"]  # the models added an optional field since
    doc["description"] = "an older wording"
    published.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    assert schemas.check(directory).stale == ["warranty.decided.v1.json"]
    assert schemas.write(directory).breaking == {}
    assert schemas.check(directory).clean


def test_a_new_version_of_an_event_is_published_beside_the_old_one(tmp_path) -> None:
    """The way to make a breaking change: case.closed v2 with another model; v1 stays as it was."""
    directory = _published_copy(tmp_path)
    data = yaml.safe_load(
        (repo_root() / "shared/src/shared/contracts/topics.yaml").read_text(encoding="utf-8")
    )
    cases = next(t for t in data["topics"] if t["name"] == "dispatch.cases.v1")
    v1 = next(e for e in cases["events"] if e["type"] == "case.closed")
    # v2 drops follow_up_due_on (dispatch.cases' CaseResolved has exactly the other fields' shape).
    cases["events"].append(
        {
            **v1,
            "schema_version": 2,
            "payload": "shared.contracts.cases:CaseResolved",
            "examples": [
                {
                    "correlation_id": "YD-7K3M9QX2AB",
                    "payload": {
                        "case_id": "YD-7K3M9QX2AB",
                        "resolution": "更换电机",
                        "outcome": "repaired",
                        "by": "sp-liu",
                        "resolved_at": "2026-11-22T08:00:00Z",
                    },
                }
            ],
        }
    )
    generated = schemas.render(parse_registry(data))
    result = schemas.check(directory, generated)
    assert result.missing == ["case.closed.v2.json"] and not (
        result.breaking or result.stale or result.orphaned
    )
