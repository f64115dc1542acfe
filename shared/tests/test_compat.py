"""The compatibility checker on each kind of change to a published event, breaking or not."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import pytest
from pydantic import Field, create_model

from shared.contracts.base import Contract
from shared.contracts.compat import Break, breaking_changes
from shared.contracts.ids import CaseId

# The published version of an event: a case closed, with a nested product and a list of parts.


class Product(Contract):
    model: str | None = None
    serial_no: str


class PartUsed(Contract):
    part: Literal["motor", "control_board"]
    quantity: int = Field(ge=1)


class Closed(Contract):
    """结案."""

    case_id: CaseId
    outcome: Literal["repaired", "replaced"]
    closed_at: datetime
    note: str | None = None
    product: Product
    parts: list[PartUsed] = Field(default_factory=list)
    original: dict[str, Any]


PUBLISHED = Closed.model_json_schema()


def changed(**fields: Any) -> dict[str, Any]:
    """The schema of Closed with fields retyped, added (`type` required, `(type, default)` optional) or removed (None)."""
    definitions: dict[str, Any] = {
        name: (info.annotation, info) for name, info in Closed.model_fields.items()
    }
    for name, spec in fields.items():
        if spec is None:
            definitions.pop(name)
        else:
            definitions[name] = spec if isinstance(spec, tuple) else (spec, ...)
    return create_model(
        "Closed", __base__=Contract, __doc__=Closed.__doc__, **definitions
    ).model_json_schema()


def whats(breaks: list[Break]) -> list[str]:
    return [str(b) for b in breaks]


def test_the_published_schema_is_compatible_with_itself() -> None:
    assert breaking_changes(PUBLISHED, PUBLISHED) == []
    assert breaking_changes(PUBLISHED, changed()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"note": None}, "note: removed"),
        ({"closed_at": None, "closed_on": datetime}, "closed_at: removed"),  # a rename
        ({"closed_on": datetime}, "closed_on: new required field"),
        ({"outcome": str}, "outcome: no longer only"),
        ({"closed_at": str}, "closed_at: format changed: 'date-time' → none"),
        ({"closed_at": date}, "closed_at: format changed: 'date-time' → 'date'"),
        ({"case_id": int}, "case_id: type changed: string → integer"),
        ({"case_id": str}, "case_id: pattern changed"),
        ({"outcome": Literal["repaired", "replaced", "returned"]}, "outcome: value 'returned' added"),
        ({"outcome": Literal["repaired"]}, "outcome: value 'replaced' removed"),
        ({"note": str}, "note: now required"),
        ({"note": (str, "")}, "note: no longer nullable"),
        ({"case_id": (CaseId | None, None)}, "case_id: no longer required"),
        ({"closed_at": datetime | None}, "closed_at: now nullable"),
        ({"original": str}, "original: type changed: object → string"),
    ],
)
def test_each_breaking_change_is_named_at_its_field(change, expected) -> None:
    found = whats(breaking_changes(PUBLISHED, changed(**change)))
    assert any(f.startswith(expected) for f in found), found


def test_changes_inside_nested_models_and_lists_are_found_with_their_path() -> None:
    class ProductV2(Contract):
        model: str | None = None
        serial: str  # renamed

    class PartUsedV2(Contract):
        part: Literal["motor", "control_board"]
        quantity: int = Field(ge=1, le=10)  # a new limit

    found = whats(breaking_changes(PUBLISHED, changed(product=ProductV2, parts=(list[PartUsedV2], []))))
    assert "product.serial_no: removed: its readers lose it (a rename is a removal)" in found
    assert "product.serial: new required field: events already published lack it" in found
    assert "parts[].quantity: maximum changed: none → 10" in found


@pytest.mark.parametrize(
    "change",
    [
        {"visited": (bool | None, None)},  # a new optional field
        {"remark": (str, "")},  # a new field with a default is optional too
    ],
)
def test_a_new_optional_field_is_not_breaking(change) -> None:
    assert breaking_changes(PUBLISHED, changed(**change)) == []


def test_documentation_order_and_model_names_are_not_breaking() -> None:
    class Item(Contract):  # PartUsed under another name, with a description
        """A part that went into the repair."""

        part: Literal["motor", "control_board"] = Field(description="Which key part.")
        quantity: int = Field(ge=1, title="How many")

    class Unit(Contract):
        serial_no: str = Field(description="Upper-case, no spaces.")
        model: str | None = Field(default=None, examples=["YD-XF250"])

    new = changed(parts=(list[Item], []), product=Unit)
    new["description"] = "结案: the case is closed."
    assert breaking_changes(PUBLISHED, new) == []


def test_a_recursive_model_is_compared_to_its_end() -> None:
    class Node(Contract):
        name: str
        children: list[Node] = Field(default_factory=list)

    class NodeV2(Contract):
        name: int
        children: list[NodeV2] = Field(default_factory=list)

    # The nested Node is the same pair of models: compared once, not forever.
    assert whats(breaking_changes(Node.model_json_schema(), NodeV2.model_json_schema())) == [
        "name: type changed: string → integer"
    ]
