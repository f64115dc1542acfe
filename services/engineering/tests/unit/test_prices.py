"""Prices (contract value, quotes, installer contract, settlement) only for engineering and management (R-EN-1)."""

from __future__ import annotations

import json
import typing
from decimal import Decimal

import pytest
from pydantic import BaseModel

from engineering.domain.access import PRICE_FIELDS, PRICE_ROLES, sees_prices, without_prices
from engineering.domain.project import Project
from engineering.domain.views import comparison_view, project_view, summary_view
from shared.http.auth import STAFF_ROLES

PRICES = ("1286000.00", "9600.70", "98765.40", "880.00", "860.00", "65.40", "7880.70", "1760.00")


def dumped(view) -> str:
    return json.dumps(view, ensure_ascii=False, default=str)


def keys_in(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_the_project_is_read_without_prices_except_by_engineering_and_management(kit, role) -> None:
    project = kit.at("archived")
    view = project_view(project, role=role, min_installers=3, today=kit.TODAY)
    text = dumped(view)
    if role in ("engineering", "management"):
        assert view["prices_shown"] is True
        assert view["contract_value"] == "1286000.00" and view["contract"]["amount"] == "9600.70"
        assert view["quotes"][1]["items"][0] == {
            "item": "新风机组吊装",
            "unit": "台",
            "quantity": "2",
            "unit_price": "860.00",
            "amount": "1720.00",
        }
        assert view["steps"][4]["amount"] == "98765.40"
    else:
        assert view["prices_shown"] is False
        assert not keys_in(view) & PRICE_FIELDS
        assert not [p for p in PRICES if p in text]
        # Everything else is there: the quotes without their prices, the decision and its reason.
        assert view["quotes"][1]["items"][0] == {"item": "新风机组吊装", "unit": "台", "quantity": "2"}
        assert view["decision"]["reason"] == "报价最低，工期合理，维保条款完整"
        assert view["contract"]["contract_no"] == "HT-2026-031"


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_the_comparison_and_the_list_hide_prices_too(kit, role) -> None:
    project = kit.at("contracting")
    comparison = comparison_view(project, role=role, min_installers=3)
    summary = summary_view(project, role=role, min_installers=3)
    assert [q["installer"] for q in comparison["quotes"]] == project.installers
    assert comparison["shortest_schedule"] == "Q-3" and comparison["quotes"][1]["chosen"]
    if sees_prices(role):
        assert comparison["lowest_total"] == "Q-2" and comparison["quotes"][1]["total"] == "9600.70"
        assert comparison["price_difference"] == "120.00"
        row = comparison["items"][0]
        assert [row["quotes"][q]["unit_price"] for q in ("Q-1", "Q-2", "Q-3")] == [
            "900.00",
            "860.00",
            "920.00",
        ]
        assert summary["contract_value"] == "1286000.00"
    else:
        assert not (keys_in(comparison) | keys_in(summary)) & PRICE_FIELDS
        assert not [p for p in PRICES if p in dumped(comparison) + dumped(summary)]
        assert comparison["items"][0]["quotes"]["Q-1"] == {"quantity": "2"}


def test_only_engineering_and_management_see_prices() -> None:
    assert PRICE_ROLES == {"engineering", "management"}
    assert [r for r in STAFF_ROLES if sees_prices(r)] == ["engineering", "management"]
    assert without_prices({"a": [{"total": "1", "b": {"amount": "2", "quantity": "3"}}]}) == {
        "a": [{"b": {"quantity": "3"}}]
    }


def _money_fields(model: type[BaseModel], path: str = "") -> list[str]:
    """Every field of the model tree typed as money (the Money alias serialises with money_text)."""
    found = []
    for name, field in model.model_fields.items():
        described = repr(field.annotation) + repr(field.metadata)
        if "money_text" in described:
            found.append(f"{path}{name}")
        for arg in [field.annotation, *typing.get_args(field.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    found += _money_fields(inner, f"{path}{name}.")
    return found


def test_every_money_field_is_one_the_views_strip() -> None:
    fields = _money_fields(Project)
    assert {f.rsplit(".", 1)[-1] for f in fields} <= PRICE_FIELDS, fields
    assert set(fields) >= {
        "contract_value",
        "quotes.total",
        "quotes.items.unit_price",
        "quotes.items.amount",
        "contract.amount",
        "steps.amount",
    }


def _decimals(value) -> list:
    if isinstance(value, dict):
        return [d for v in value.values() for d in _decimals(v)]
    if isinstance(value, list):
        return [d for v in value for d in _decimals(v)]
    return [value] if isinstance(value, Decimal) else []


def test_money_is_kept_exact_as_text(kit) -> None:
    project = kit.at("quoted")
    assert project.quotes[0].items[1].amount == Decimal("7880.70")  # 120.5 × 65.40
    stored = project.model_dump(mode="python")
    assert stored["quotes"][0]["total"] == "9680.70" and stored["contract_value"] == "1286000.00"
    assert Project.model_validate(stored) == project
    # What the repository writes holds no Decimal (BSON would take it as a float): only exact strings.
    assert _decimals(kit.at("archived").model_dump(mode="python")) == []
