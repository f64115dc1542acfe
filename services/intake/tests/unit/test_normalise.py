"""Normalisation rules of intake, per field and per channel (no broker, no store)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from intake.domain.channels import DealerTicket, HotlineCall, OnlineSubmission, RegionalManagerReport
from intake.domain.normalise import (
    CASE_ID_RE,
    guess_category,
    match_model,
    new_case_id,
    normalise_region,
)
from intake.handlers import body_fingerprint
from shared.reference import normalise_phone, normalise_serial

RECEIVED = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("138-1234-5678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0086-13812345678", "+8613812345678"),
        ("8613812345678", "+8613812345678"),
        ("020-12345678", "+862012345678"),
        ("(0755) 8765 4321", "+8675587654321"),
        ("010 1234 5678", "+861012345678"),
        ("400-832-0089", "+864008320089"),
    ],
)
def test_phone_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["123", "12812345678", "1381234567", "+1 415 555 0100", "138abc45678", ""])
def test_phone_numbers_that_are_not_chinese_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_serials_are_upper_case_without_spaces() -> None:
    assert normalise_serial(" xf250 2405 001234 ") == "XF2502405001234"
    with pytest.raises(ValueError):
        normalise_serial("x!")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("华南", "south_china"),
        ("south_china", "south_china"),
        ("South China", "south_china"),
        ("广东", "south_china"),
        ("华东大区", "east_china"),
        ("四川省成都市", "southwest"),
    ],
)
def test_regions_accept_codes_names_and_provinces(raw: str, code: str) -> None:
    assert normalise_region(raw) == code


def test_unknown_region_lists_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="south_china"):
        normalise_region("Atlantis")


def test_models_are_matched_as_typed_or_from_the_serial_prefix() -> None:
    assert match_model("yd xf-250", None).model == "YD-XF250"
    assert match_model("XF350", None).model == "YD-XF350"
    assert match_model(None, "JH6002401000001").model == "YD-JH600"
    assert match_model("YD-LX-H13-250", None).kind == "filter"
    unknown = match_model("ABC-9", None)
    assert unknown.model is None and unknown.as_given == "ABC-9"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("新风机安装后风管漏水，吊顶有水渍", "installation"),
        ("滤网提示更换，想买新的滤芯", "consumable"),
        ("APP 升级以后显示屏死机", "software"),
        ("开机后电机异响，风量变小", "product_fault"),
        ("The motor is noisy and the unit won't start", "product_fault"),
        ("请回电", "product_fault"),
    ],
)
def test_category_guess_names_its_evidence(text: str, category: str) -> None:
    guess = guess_category(("description", text))
    assert guess.category == category
    assert guess.evidence and 0 < guess.confidence <= 1
    if text != "请回电":
        assert all(e.startswith("description: ") for e in guess.evidence)


def test_a_named_project_or_a_filter_model_tilts_the_guess() -> None:
    assert guess_category(("description", "有问题"), project_ref="P-2026-001").category == "installation"
    assert guess_category(("description", "有问题"), product_kind="filter").category == "consumable"


def test_case_ids_are_unambiguous_and_unique() -> None:
    ids = {new_case_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(CASE_ID_RE.match(i) for i in ids)


def _dealer(**overrides: object) -> dict:
    body: dict = {
        "dealer_code": "D-GZ-001",
        "ticket_id": "T-2026-0456",
        "customer": {"name": "王女士", "phone": "138 1234 5678", "address": "广东省广州市天河区体育西路1号"},
        "product": {
            "model": "yd xf-250",
            "serial_no": "xf2502405001234",
            "purchase_date": "2026-03-18",
            "invoice_no": "44001234",
            "service_card_stamped": True,
        },
        "description": "新风机开机后电机异响，风量明显变小",
    }
    body.update(overrides)
    return body


def test_dealer_ticket_becomes_the_canonical_complaint() -> None:
    raw = _dealer()
    c = DealerTicket.model_validate(raw).to_complaint(
        case_id="YD-0000000001", received_at=RECEIVED, original=raw
    )
    assert c.channel == "dealer"
    assert c.customer.phone == "+8613812345678"
    assert c.region == "south_china"  # from the address's province
    assert c.dealer_code == "D-GZ-001"
    assert c.submitted_by.reference == "T-2026-0456"
    assert (c.product.model, c.product.kind, c.product.model_as_given) == (
        "YD-XF250",
        "fresh_air_unit",
        "yd xf-250",
    )
    assert c.product.serial_no == "XF2502405001234"
    assert c.product.purchase_date == date(2026, 3, 18) and c.product.service_card_stamped is True
    assert c.category_guess.category == "product_fault"
    assert c.original == raw


def test_hotline_call_without_zone_is_china_time() -> None:
    raw = {
        "caller_name": "张先生",
        "phone": "13900001111",
        "called_at": "2026-11-26T09:30:00",
        "transcript": "家里新风安装的风管接口漏水",
        "agent_id": "fd-he",
        "address": "上海市浦东新区",
        "product": {"serial_no": "xf350 2311 000042"},
    }
    c = HotlineCall.model_validate(raw).to_complaint(
        case_id="YD-0000000002", received_at=RECEIVED, original=raw
    )
    assert c.reported_at is not None and c.reported_at.utcoffset().total_seconds() == 8 * 3600
    assert c.region == "east_china"
    assert c.product.model == "YD-XF350"  # from the serial prefix
    assert c.category_guess.category == "installation"
    assert c.submitted_by.principal_id == "fd-he"


def test_regional_manager_report_keeps_region_and_project() -> None:
    raw = {
        "manager_id": "RM-SOUTH-01",
        "region": "华南",
        "customer": {"name": "深圳某学校", "phone": "0755-87654321"},
        "product": {"model": "YD-XF1000"},
        "description": "项目验收后机组停机",
        "project_ref": "P-2026-017",
    }
    c = RegionalManagerReport.model_validate(raw).to_complaint(
        case_id="YD-0000000003", received_at=RECEIVED, original=raw
    )
    assert c.region == "south_china" and c.project_ref == "P-2026-017"
    assert c.customer.phone == "+8675587654321"


def test_online_submission_is_public() -> None:
    raw = {
        "name": "李先生",
        "phone": "13900001111",
        "serial_no": "xf3502311000042",
        "description": "想买新的滤芯",
    }
    c = OnlineSubmission.model_validate(raw).to_complaint(
        case_id="YD-0000000004", received_at=RECEIVED, original=raw
    )
    assert c.submitted_by.principal_id == "public"
    assert c.category_guess.category == "consumable"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"description": "x" * 4001}, "description"),
        ({"customer": {"name": "王", "phone": "12"}}, "customer.phone"),
        (
            {
                "product": {
                    "model": "YD-XF250",
                    "serial_no": "XF2502405001234",
                    "purchase_date": "2999-01-01",
                    "invoice_no": "1",
                    "service_card_stamped": True,
                }
            },
            "product.purchase_date",
        ),
    ],
)
def test_bad_fields_are_named(change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        DealerTicket.model_validate(_dealer(**change))
    locs = {".".join(str(p) for p in e["loc"]) for e in err.value.errors()}
    assert field in locs


def test_fingerprint_ignores_key_order_and_spacing() -> None:
    a = DealerTicket.model_validate(_dealer())
    b = DealerTicket.model_validate(
        dict(reversed(list(_dealer(description=" 新风机开机后电机异响，风量明显变小 ").items())))
    )
    assert body_fingerprint(a) == body_fingerprint(b)
    assert body_fingerprint(a) != body_fingerprint(
        DealerTicket.model_validate(_dealer(description="不一样的描述"))
    )


def test_clause_1_1_3_a_dealer_ticket_without_documents_is_forwarded() -> None:
    """§一.1.3: every complaint a dealer receives goes to the quality after-sales manager; the serial,
    the purchase date and the documents are warranty's question, not a reason to refuse the ticket."""
    raw = _dealer(product={"model": "YD-XF250"}, reported_on="2026-11-20")
    c = DealerTicket.model_validate(raw).to_complaint(
        case_id="YD-0000000005", received_at=RECEIVED, original=raw
    )
    assert (c.product.serial_no, c.product.purchase_date, c.product.invoice_no) == (None, None, None)
    assert c.product.service_card_stamped is None
    # The day the customer told the dealer, China time: the 三包 windows count to it.
    assert c.reported_at is not None and c.reported_at.date() == date(2026, 11, 20)
    assert c.reported_at.utcoffset().total_seconds() == 8 * 3600
    with pytest.raises(ValidationError):
        DealerTicket.model_validate(_dealer(reported_on="2999-01-01"))
