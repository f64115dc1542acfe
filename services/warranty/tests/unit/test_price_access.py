"""Who sees a remedy's money (R-WA-8): finance, who pays it, and the case's own specialist; not another
specialist, not the manager, not a channel."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared.http.auth import Principal
from warranty.domain.access import sees_prices
from warranty.domain.facts import CaseFacts
from warranty.domain.remedy import Remedy
from warranty.entrypoints.remedies import remedy_view

FACTS = CaseFacts(
    case_id="YD-20261201-0001", specialist_id="sp-liu", fault_kind="hardware", reported_on=date(2026, 12, 1)
)


@pytest.mark.parametrize(
    ("principal", "sees"),
    [
        (Principal(role="specialist", id="sp-liu"), True),
        (Principal(role="finance", id="fin-zhao"), True),
        (Principal(role="specialist", id="sp-wang"), False),
        (Principal(role="manager", id="mgr-chen"), False),
        (Principal(role="management", id="gm-zhou"), False),
        (Principal(role="dealer", id="dealer", dealer_code="D-GZ-001"), False),
    ],
)
def test_the_refund_is_shown_to_finance_and_the_cases_specialist_only(
    principal: Principal, sees: bool
) -> None:
    assert sees_prices(principal, FACTS) is sees
    remedy = Remedy.model_validate(
        {
            "remedy_id": "RM-0000000001",
            "case_id": FACTS.case_id,
            "serial_no": "XF2502405003333",
            "remedy": "return",
            "chosen_by": "sp-liu",
            "chosen_at": datetime(2026, 12, 1, tzinfo=UTC),
            "refund_amount": Decimal("3980.00"),
            "steps": [
                {
                    "step": "refunded",
                    "on": "2026-12-01",
                    "by": "sp-liu",
                    "at": "2026-12-01T02:00:00Z",
                    "detail": {"amount": "3980.00"},
                }
            ],
        }
    )
    view = remedy_view(remedy, principal, FACTS)
    assert ("refund_amount" in view) is sees
    assert ("3980" in str(view)) is sees
