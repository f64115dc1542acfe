"""Who the case page draws a remedy's money for, without the suite: the services are stubbed to answer
every role with the amounts, so what is hidden is hidden by the console's own rule. The refund is
drawn for finance, who pays it, and the case's specialist; a remedy's quote for that specialist alone."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from console.adapters.services import Api
from console.entrypoints.cases import _case_context
from console.entrypoints.web import TEMPLATES
from console.session import User
from shared.http.auth import Principal

CASE_ID = "YD-7K3M9QX2AB"
CASE = {
    "case_id": CASE_ID,
    "status": "in_progress",
    "priority": "normal",
    "category": "product_fault",
    "department": "quality",
    "channel": "dealer",
    "assignee": "sp-liu",
    "customer": {"name": "王女士"},
    "product": {"model": "YD-XF250", "serial_no": "XF2502405001234"},
    "received_at": "2026-11-20T02:15:00Z",
    "description": "新风机开机后电机异响",
    "timeline": [],
}
RETURN = {
    "remedy_id": "RM-000000000R",
    "remedy": "return",
    "status": "completed",
    "chosen_by": "sp-liu",
    "chosen_at": "2026-11-21T02:00:00Z",
    "steps": [],
    "pending": [],
    "refund_amount": "3980.00",
}
REPLACEMENT = {
    "remedy_id": "RM-000000000Q",
    "remedy": "replacement",
    "status": "cancelled",
    "chosen_by": "sp-liu",
    "chosen_at": "2026-11-20T03:00:00Z",
    "steps": [],
    "pending": [],
}
QUOTE = {
    "quote_id": "Q-7777",
    "remedy_id": "RM-000000000Q",
    "total": "1393.00",
    "valid_until": "2026-12-05",
    "lines": [{"description": "全热交换新风机 250 更换", "quantity": 1, "amount": "1393.00"}],
}


class Service:
    """A service that answers every role alike (the amounts included)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    async def get(self, path: str, *, key: str, params: dict[str, Any] | None = None) -> Api:
        return Api(200, self.answers.get(path, {"items": []}))


def request_to_stubs() -> Any:
    services = SimpleNamespace(
        dispatch=Service({f"/v1/cases/{CASE_ID}": CASE}),
        warranty=Service({f"/v1/cases/{CASE_ID}/remedies": {"items": [RETURN, REPLACEMENT], "choices": []}}),
        parts=Service({"/v1/quotes": {"items": [QUOTE]}}),
        notifications=Service({}),
    )
    console = SimpleNamespace(services=services)
    return SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(components={"console": console})))
    )


async def live_part(role: str, person: str) -> str:
    """The case page's live part as `person` sees it."""
    user = User(Principal(role=role, id=person), key="k")
    ctx = await _case_context(request_to_stubs(), user, CASE_ID)
    assert ctx is not None
    template = TEMPLATES.env.get_template("_case_live.html")
    return template.render(
        ctx | {"user": user, "lang": "zh", "sees_prices": role in ("finance", "specialist")}
    )


@pytest.mark.parametrize(
    ("role", "person", "refund", "quote"),
    [
        ("specialist", "sp-liu", True, True),  # the case's own specialist
        ("finance", "fin-zhao", True, False),  # pays the refund; quotes stay the specialist's
        ("specialist", "sp-ma", False, False),  # another specialist
        ("manager", "mgr-chen", False, False),
    ],
)
async def test_the_refund_is_drawn_for_finance_and_the_case_s_specialist_the_quote_for_the_specialist(
    role: str, person: str, refund: bool, quote: bool
) -> None:
    page = await live_part(role, person)
    assert ("refund-amount" in page and "3980.00" in page) is refund
    assert ("Q-7777" in page and "1393.00" in page) is quote
    assert 'data-remedy-id="RM-000000000R"' in page  # everyone sees the remedy itself
