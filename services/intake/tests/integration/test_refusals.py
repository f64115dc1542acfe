"""Every 4xx path names what is wrong, and nothing reaches Kafka for a refused complaint."""

from __future__ import annotations

import json

import pytest

from intake.entrypoints.http import create_app
from shared.testing.fixtures import running

pytestmark = pytest.mark.integration


async def test_missing_and_unknown_keys_are_401(intake, dealer_body) -> None:
    missing = await intake.post("/v1/complaints/dealer", json=dealer_body())
    unknown = await intake.post("/v1/complaints/dealer", json=dealer_body(), headers={"X-API-Key": "x" * 32})
    assert missing.status_code == unknown.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]


async def test_a_key_posts_only_on_its_own_channel(intake, keys, dealer_body, hotline_body) -> None:
    res = await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["dealer"])
    assert res.status_code == 403
    assert "dealer" in res.json()["detail"]
    res = await intake.post("/v1/complaints/dealer", json=dealer_body(), headers=keys["specialist"])
    assert res.status_code == 403


async def test_a_dealer_key_cannot_post_for_another_dealer(intake, complaints, keys, dealer_body) -> None:
    res = await intake.post(
        "/v1/complaints/dealer", json=dealer_body(dealer_code="D-SH-009"), headers=keys["dealer"]
    )
    assert res.status_code == 403
    assert "D-GZ-001" in res.json()["detail"]


async def test_a_manager_key_cannot_post_for_another_manager(intake, keys) -> None:
    body = {
        "manager_id": "RM-NORTH-02",
        "region": "华北",
        "customer": {"name": "赵先生", "phone": "13600001234"},
        "product": {"model": "YD-XF250"},
        "description": "风机不转",
    }
    res = await intake.post("/v1/complaints/regional-manager", json=body, headers=keys["regional_manager"])
    assert res.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"surprise": True}, "surprise"),
        ({"description": "长" * 4001}, "description"),
        ({"customer": {"name": "王女士", "phone": "12345"}}, "customer.phone"),
        ({"ticket_id": ""}, "ticket_id"),
        ({"region": "Atlantis"}, "region"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(intake, keys, dealer_body, change, field) -> None:
    res = await intake.post("/v1/complaints/dealer", json=dealer_body(**change), headers=keys["dealer"])
    assert res.status_code == 422
    assert field in [e["field"] for e in res.json()["errors"]]
    assert field in res.json()["detail"]


async def test_missing_field_is_named(intake, keys, dealer_body) -> None:
    body = dealer_body()
    del body["product"]["model"]
    res = await intake.post("/v1/complaints/dealer", json=body, headers=keys["dealer"])
    assert res.status_code == 422
    assert "product.model" in [e["field"] for e in res.json()["errors"]]


async def test_malformed_idempotency_key_is_422(intake, keys, hotline_body) -> None:
    res = await intake.post(
        "/v1/complaints/hotline",
        json=hotline_body(),
        headers=keys["hotline"] | {"Idempotency-Key": "k" * 129},
    )
    assert res.status_code == 422
    assert "idempotency-key" in res.json()["detail"].lower()


async def test_oversized_body_is_413(intake, keys, dealer_body) -> None:
    body = dealer_body(description="大" * 40000)  # ~120 KB of UTF-8, over the 64 KB limit
    res = await intake.post("/v1/complaints/dealer", json=body, headers=keys["dealer"])
    assert res.status_code == 413


async def test_rate_limits_are_429_with_retry_after(intake_settings, complaints, keys, hotline_body) -> None:
    app = create_app(intake_settings(rate_limit_per_key="3/minute", rate_limit_online_per_ip="2/minute"))
    async with running(app) as client:
        codes = [
            (
                await client.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"])
            ).status_code
            for _ in range(4)
        ]
        assert codes == [202, 202, 202, 429]
        online = {"name": "李先生", "phone": "13900001111", "description": "滤芯"}
        online_codes = [
            (await client.post("/v1/complaints/online", json=online)).status_code for _ in range(3)
        ]
        assert online_codes == [202, 202, 429]
        limited = await client.post("/v1/complaints/online", json=online)
        assert int(limited.headers["Retry-After"]) >= 1
    assert len(await complaints(5, settle_s=1.0)) == 5


async def test_refused_requests_publish_nothing(intake, complaints, keys, dealer_body) -> None:
    await intake.post("/v1/complaints/dealer", json=dealer_body(surprise=1), headers=keys["dealer"])
    await intake.post("/v1/complaints/dealer", json=dealer_body(dealer_code="D-X"), headers=keys["dealer"])
    ok = await intake.post("/v1/complaints/dealer", json=dealer_body(), headers=keys["dealer"])
    records = await complaints(1, settle_s=1.0)
    assert [r.key for r in records] == [ok.json()["case_id"].encode()]


ONLINE = {"name": "王", "phone": "13900005555", "description": "电机异响"}


async def test_a_complaint_with_a_byte_order_mark_is_accepted_on_every_channel(
    intake, complaints, keys, dealer_body, hotline_body
) -> None:
    """The body is parsed once; the BOM of RFC 8259 §8.1 is ignored, and `original` is what was posted."""
    posts = [
        ("online", ONLINE, {}),
        ("hotline", hotline_body(), keys["hotline"]),
        ("dealer", dealer_body(), keys["dealer"]),
    ]
    accepted = []
    for channel, body, headers in posts:
        raw = b"\xef\xbb\xbf" + json.dumps(body, ensure_ascii=False).encode()
        res = await intake.post(
            f"/v1/complaints/{channel}", content=raw, headers=headers | {"Content-Type": "application/json"}
        )
        assert res.status_code == 202, res.text
        accepted.append(res.json()["case_id"])
    records = await complaints(3, settle_s=1.0)
    originals = {r.envelope().correlation_id: r.envelope().payload["original"] for r in records}
    assert originals[accepted[0]] == ONLINE


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
async def test_a_complaint_in_utf16_or_utf32_is_415_naming_the_encoding(
    intake, complaints, keys, encoding
) -> None:
    raw = json.dumps(ONLINE, ensure_ascii=False).encode(encoding)
    res = await intake.post(
        "/v1/complaints/online", content=raw, headers={"Content-Type": "application/json"}
    )
    assert res.status_code == 415
    assert encoding.upper()[:6] in res.json()["detail"] and "UTF-8" in res.json()["detail"]
    assert await complaints(0, settle_s=0.5) == []


@pytest.mark.parametrize(
    ("product", "bound"),
    [
        ({"purchase_date": "0001-01-01"}, "2019-03-01"),
        ({"model": "YD-XF1000", "serial_no": "XF1K2501000007", "purchase_date": "2021-01-01"}, "2021-06-01"),
    ],
)
async def test_a_purchase_before_the_model_was_launched_is_422(
    intake, keys, dealer_body, product, bound
) -> None:
    body = dealer_body()
    body["product"] |= product
    res = await intake.post("/v1/complaints/dealer", json=body, headers=keys["dealer"])
    assert res.status_code == 422
    [error] = res.json()["errors"]
    assert error["field"] == "product.purchase_date" and bound in error["message"]


async def test_a_streamed_body_over_64_kb_is_413(intake) -> None:
    async def chunks():
        yield b'{"name": "\xe7\x8e\x8b", "phone": "13900005555", "description": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    res = await intake.post(
        "/v1/complaints/online", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert res.status_code == 413 and "larger than" in res.json()["detail"]
