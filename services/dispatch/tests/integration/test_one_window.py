"""§一.2, R-DS-2: the quality after-sales department is the one outward window. Engineering works an
installation case and records its work; the quality specialist who answers the case replies and closes."""

from __future__ import annotations

import pytest

from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

INSTALLATION = {"category": "installation", "confidence": 0.9, "evidence": ["description: 漏水"]}


async def test_engineering_is_refused_a_reply_and_the_closure(dispatch, events, keys, case_status) -> None:
    case_id = new_case_id()
    await events.complaint(case_id, description="风管接口漏水", category_guess=INSTALLATION)
    case = await case_status(dispatch, case_id, "assigned", keys["manager"])
    # Engineering works it; a quality specialist (south China: sp-liu) answers the customer.
    assert (case["department"], case["assignee"], case["answered_by"]) == (
        "engineering_installation",
        "eng-wu",
        "sp-liu",
    )

    refused = await dispatch.post(
        f"/v1/cases/{case_id}/replies",
        json={"message": "明天上门", "via": "sms"},
        headers=keys["engineering"],
    )
    assert refused.status_code == 403
    assert (
        "quality after-sales department" in refused.json()["detail"] and "sp-liu" in refused.json()["detail"]
    )
    # Engineering still records what it found (internal, not told to the customer).
    resolved = await dispatch.post(
        f"/v1/cases/{case_id}/resolution",
        headers=keys["engineering"],
        json={"resolution": "重新密封风管接口", "outcome": "repaired"},
    )
    assert resolved.status_code == 409  # nothing was told yet: the case is not in progress

    replied = await dispatch.post(
        f"/v1/cases/{case_id}/replies",
        json={"message": "已安排工程部明天上门", "via": "sms"},
        headers=keys["specialist"],
    )
    assert replied.status_code == 201, replied.text
    ok = await dispatch.post(
        f"/v1/cases/{case_id}/resolution",
        headers=keys["engineering"],
        json={"resolution": "重新密封风管接口", "outcome": "repaired"},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "resolved"
    closing = await dispatch.post(f"/v1/cases/{case_id}/closure", json={}, headers=keys["engineering"])
    assert closing.status_code == 403

    [named] = await events.dispatched(case_id, "case.liaison_assigned")
    assert named.envelope().payload["specialist_id"] == "sp-liu"
    [assigned] = await events.dispatched(case_id, "case.assigned")
    assert assigned.envelope().payload["liaison_id"] == "sp-liu"


async def test_the_manager_names_who_answers_and_the_quality_case_is_answered_by_its_assignee(
    dispatch, events, keys, case_status
) -> None:
    case_id = new_case_id()
    await events.complaint(case_id, description="风管接口漏水", category_guess=INSTALLATION)
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    wrong = await dispatch.post(
        f"/v1/cases/{case_id}/liaison",
        json={"specialist_id": "eng-zheng", "reason": "试试"},
        headers=keys["manager"],
    )
    assert wrong.status_code == 422
    res = await dispatch.post(
        f"/v1/cases/{case_id}/liaison",
        json={"specialist_id": "sp-ma", "reason": "马工熟悉该项目"},
        headers=keys["manager"],
    )
    assert res.status_code == 200 and res.json()["answered_by"] == "sp-ma"
    # sp-liu no longer answers this one.
    refused = await dispatch.post(
        f"/v1/cases/{case_id}/replies", json={"message": "x", "via": "sms"}, headers=keys["specialist"]
    )
    assert refused.status_code == 403

    quality = new_case_id()
    await events.complaint(quality)
    case = await case_status(dispatch, quality, "assigned", keys["manager"])
    assert case["answered_by"] == case["assignee"] == "sp-liu" and case["liaison"] is None
