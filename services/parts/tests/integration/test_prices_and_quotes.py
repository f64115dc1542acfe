"""Consumables, prices and quotes (R-PA-3, R-PA-4): who may see a price, and what happens out of stock."""

from __future__ import annotations

import pytest

from shared.testing.fixtures import eventually
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

NOT_PRICE_ROLES = (
    "manager",
    "purchasing",
    "engineering",
    "management",
    "operations",
    "dealer",
    "regional_manager",
    "hotline",
)


async def test_price_lists_are_finance_and_specialist_only_and_every_read_is_logged(
    parts, keys, prices
) -> None:
    body = prices("2026-11-01")
    assert (await parts.post("/v1/price-lists", json=body, headers=keys["specialist"])).status_code == 403
    assert (await parts.post("/v1/price-lists", json=body, headers=keys["manager"])).status_code == 403
    assert (await parts.post("/v1/price-lists", json=body, headers=keys["finance"])).status_code == 201
    assert (
        await parts.post("/v1/price-lists", json=body, headers=keys["finance"])
    ).status_code == 409  # immutable
    for role in ("finance", "specialist"):
        res = await parts.get("/v1/price-lists", headers=keys[role])
        assert res.status_code == 200 and res.json()["in_effect"] == "2026-11-01"
    for role in NOT_PRICE_ROLES:
        assert (await parts.get("/v1/price-lists", headers=keys[role])).status_code == 403, role
        assert (
            await parts.get("/v1/quotes", params={"case_id": "YD-0000000000"}, headers=keys[role])
        ).status_code == 403, role
    log = (await parts.get("/v1/price-reads", headers=keys["finance"])).json()["items"]
    assert {(e["who"], e["what"]) for e in log} >= {("fin-zhao", "price lists"), ("sp-liu", "price lists")}
    assert (await parts.get("/v1/price-reads", headers=keys["specialist"])).status_code == 403


async def test_in_stock_is_quoted_out_of_stock_goes_to_purchasing(
    parts, scenario, keys, prices, isolation
) -> None:
    await parts.post("/v1/price-lists", json=prices(), headers=keys["finance"])
    res = await parts.post(
        "/v1/stock/YD-LX-H13-250/adjustments",
        json={"delta": 5, "reason": "期初盘点"},
        headers=keys["purchasing"],
    )
    assert res.json()["on_hand"] == 5
    case_id = new_case_id()
    await scenario.assigned(case_id)

    async def known():
        res = await parts.post(
            "/v1/quotes",
            json={
                "case_id": case_id,
                "items": [{"item": "YD-LX-H13-250", "quantity": 2}, {"item": "YD-LX-C-600", "quantity": 1}],
            },
            headers=keys["specialist"],
        )
        return res if res.status_code == 201 else None

    res = await eventually(known)
    quote = res.json()["quote"]
    assert [(line["item"], line["unit_price"], line["amount"]) for line in quote["lines"]] == [
        ("YD-LX-H13-250", "268.00", "536.00")
    ]
    assert quote["total"] == "536.00" and quote["valid_until"]
    [purchase] = res.json()["purchase_requests"]
    assert (purchase["item"], purchase["quantity"], purchase["status"]) == ("YD-LX-C-600", 1, "open")
    assert "YD-LX-C-600" in res.json()["customer_told"]

    events = await scenario.parts_events(case_id, lambda rs: len(rs) >= 2)
    assert sorted(r.headers["event_type"].decode() for r in events) == ["purchase.requested", "quote.issued"]

    received = await parts.post(
        f"/v1/purchase-requests/{purchase['request_id']}/status",
        json={"status": "received"},
        headers=keys["purchasing"],
    )
    assert received.json()["status"] == "received"
    stock = {
        i["item"]: i["on_hand"]
        for i in (await parts.get("/v1/stock", headers=keys["engineering"])).json()["items"]
    }
    assert stock == {"YD-LX-H13-250": 5, "YD-LX-C-600": 1}
    assert "price" not in str((await parts.get("/v1/stock", headers=keys["engineering"])).json())


async def test_only_the_assigned_specialist_issues_a_quote(parts, scenario, keys, prices) -> None:
    await parts.post("/v1/price-lists", json=prices(), headers=keys["finance"])
    case_id = new_case_id()
    await scenario.assigned(case_id, specialist="sp-ma")
    body = {"case_id": case_id, "items": [{"item": "YD-LX-H13-250", "quantity": 1}]}

    async def refused():
        res = await parts.post("/v1/quotes", json=body, headers=keys["specialist"])
        return res if res.status_code == 403 else None

    res = await eventually(refused)
    assert "sp-ma" in res.json()["detail"]
    for role in ("manager", "finance", "purchasing", "dealer"):
        assert (await parts.post("/v1/quotes", json=body, headers=keys[role])).status_code == 403, role


async def test_out_of_warranty_repair_quotes_cost_plus_freight(open_request, parts, keys, prices) -> None:
    await parts.post("/v1/price-lists", json=prices(), headers=keys["finance"])
    case_id, req = await open_request(decision="chargeable", remedy="paid_repair", freight_both_ways=True)
    assert req["chargeable"] is True
    res = await parts.post(
        "/v1/quotes",
        json={"case_id": case_id, "repair_request_id": req["request_id"]},
        headers=keys["specialist"],
    )
    assert res.status_code == 201, res.text
    assert [(line["item"], line["quantity"], line["amount"]) for line in res.json()["quote"]["lines"]] == [
        ("motor", 1, "320.00"),
        ("freight", 2, "50.00"),
    ]
    assert res.json()["quote"]["total"] == "370.00"


async def test_local_price_paid_is_hidden_from_other_roles(open_request, parts, keys) -> None:
    case_id, req = await open_request()
    await parts.post(
        f"/v1/parts-requests/{req['request_id']}/local-sourcing",
        headers=keys["regional_manager"],
        json={"found": True, "source": "广州某家电维修部", "price_paid": "300.00", "receipt_no": "R-1"},
    )
    for role in ("manager", "engineering", "purchasing"):
        view = (await parts.get(f"/v1/parts-requests/{req['request_id']}", headers=keys[role])).json()
        assert "local_price_paid" not in view, role
    seen = (await parts.get(f"/v1/parts-requests/{req['request_id']}", headers=keys["finance"])).json()
    assert seen["local_price_paid"] == "300.00"
    log = (await parts.get("/v1/price-reads", headers=keys["finance"])).json()["items"]
    assert any(e["who"] == "fin-zhao" and req["request_id"] in e["what"] for e in log)


async def test_rights_2_7_an_excluded_cause_in_the_period_is_quoted_without_freight(
    open_request, parts, keys, prices
) -> None:
    """权益 2.7 puts freight both ways on the customer only past the period: within it, an excluded cause pays
    the part at cost and the labour at finance's rate card, no freight."""
    await parts.post("/v1/price-lists", json=prices(), headers=keys["finance"])
    case_id, req = await open_request(decision="chargeable", remedy="paid_repair", freight_both_ways=False)
    res = await parts.post(
        "/v1/quotes",
        headers=keys["specialist"],
        json={"case_id": case_id, "repair_request_id": req["request_id"], "labour_hours": "1.5"},
    )
    assert [(line["item"], line["amount"]) for line in res.json()["quote"]["lines"]] == [
        ("motor", "320.00"),
        ("labour_hour", "120.00"),
    ]


async def test_remedies_are_quoted_repair_parts_labour_and_replacement_depreciation(
    open_request, parts, scenario, keys, prices
) -> None:
    await parts.post("/v1/price-lists", json=prices(), headers=keys["finance"])
    case_id, _req = await open_request(
        decision="chargeable", remedy="paid_repair", depreciation_rate=0.35, freight_both_ways=True
    )
    body = {"case_id": case_id, "remedy_id": "RM-000000000A", "parts": ["fan"], "labour_hours": "2"}
    unknown = await parts.post("/v1/quotes", json=body, headers=keys["specialist"])
    assert unknown.status_code == 409  # no such remedy open on the case
    await scenario.remedy(case_id, "RM-000000000A", "paid_repair")
    await scenario.remedy(case_id, "RM-000000000B", "replacement")

    async def quoted():
        res = await parts.post("/v1/quotes", json=body, headers=keys["specialist"])
        return res if res.status_code == 201 else None

    res = await eventually(quoted)
    quote = res.json()["quote"]
    assert [(line["item"], line["amount"]) for line in quote["lines"]] == [
        ("fan", "120.00"),
        ("labour_hour", "160.00"),
        ("freight", "50.00"),
    ]
    assert quote["remedy_id"] == "RM-000000000A"
    body = {"case_id": case_id, "remedy_id": "RM-000000000B", "replacement_item": "YD-XF250"}
    replacement = await eventually(quoted)
    assert [(line["item"], line["amount"]) for line in replacement.json()["quote"]["lines"]] == [
        ("YD-XF250", "700.00")
    ]
    assert (await parts.post("/v1/quotes", json=body, headers=keys["manager"])).status_code == 403
    assert (
        await parts.post("/v1/quotes", json=body | {"replacement_item": None}, headers=keys["specialist"])
    ).status_code == 422
    events = await scenario.parts_events(
        case_id, lambda rs: sum(r.headers["event_type"] == b"quote.issued" for r in rs) >= 2
    )
    issued = [r.envelope().payload for r in events if r.envelope().event_type == "quote.issued"]
    assert {q["remedy_id"] for q in issued} == {"RM-000000000A", "RM-000000000B"}
