"""Files on cases and units, on the real store (GridFS) and broker (R-EV-1)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from intake.config import IntakeSettings
from intake.entrypoints.http import create_app as intake_app
from shared.attachments import MAX_BYTES
from shared.testing import samples
from shared.testing.fixtures import Isolation, eventually, running
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

pytestmark = pytest.mark.integration

# A second dealer exists only in this test's own credentials file (not a development key).
OTHER_DEALER = {"X-API-Key": "test-second-dealer-0093e1c7b5a24d"}


@pytest.fixture
async def two_dealers(isolation: Isolation, tmp_path) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The suite with a second dealer (D-SZ-009) among the keys."""
    creds = json.loads(isolation.credentials.read_text(encoding="utf-8"))
    creds["dealer"] = [creds["dealer"], {"api_key": OTHER_DEALER["X-API-Key"], "dealer_code": "D-SZ-009"}]
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(creds), encoding="utf-8")
    async with (
        running(intake_app(isolation.settings(IntakeSettings, credentials_file=path))) as intake,
        running(dispatch_app(isolation.settings(DispatchSettings, credentials_file=path))) as dispatch,
        running(warranty_app(isolation.settings(WarrantySettings, credentials_file=path))) as warranty,
    ):
        yield {"intake": intake, "dispatch": dispatch, "warranty": warranty}


async def _case(suite, keys, body) -> str:
    posted = await suite["intake"].post("/v1/complaints/dealer", json=body, headers=keys["dealer"])
    case_id = posted.json()["case_id"]

    async def known():
        return (
            await suite["warranty"].get(f"/v1/cases/{case_id}", headers=keys["manager"])
        ).status_code == 200

    await eventually(known, timeout_s=30)
    return case_id


def _upload(content: bytes, name: str = "photo.jpg", kind: str = "damage", content_type: str = "image/jpeg"):
    return {"files": {"file": (name, content, content_type)}, "data": {"kind": kind}}


async def test_files_are_typed_by_their_bytes_and_limited_in_size(two_dealers, keys, ticket) -> None:
    suite = two_dealers
    case_id = await _case(suite, keys, ticket(ticket_id="T-A1"))
    url = f"/v1/cases/{case_id}/attachments"
    made = {}
    for name, content, kind in (
        ("invoice.png", samples.png(), "invoice"),
        ("damage.jpg", samples.jpeg(), "damage"),
        ("IMG_0001.HEIC", samples.heic(), "damage"),
        ("form.pdf", samples.pdf(), "signed_form"),
    ):
        res = await suite["warranty"].post(url, headers=keys["specialist"], **_upload(content, name, kind))
        assert res.status_code == 201, res.text
        made[name] = res.json()
        assert res.json()["sha256"] == hashlib.sha256(content).hexdigest()
        assert (res.json()["uploaded_by"], res.json()["role"], res.json()["kind"]) == (
            "sp-liu",
            "specialist",
            kind,
        )
    assert [made[n]["content_type"] for n in made] == [
        "image/png",
        "image/jpeg",
        "image/heic",
        "application/pdf",
    ]

    # An executable named .jpg and sent as image/jpeg is still an executable.
    for bad in (samples.windows_executable(), samples.elf_executable(), b"GIF89a\x01\x00\x01\x00"):
        refused = await suite["warranty"].post(url, headers=keys["specialist"], **_upload(bad, "photo.jpg"))
        assert refused.status_code == 415 and "content" in refused.json()["detail"]
    too_big = await suite["warranty"].post(
        url, headers=keys["specialist"], **_upload(samples.jpeg(MAX_BYTES + 1))
    )
    assert too_big.status_code == 413
    just_fits = await suite["warranty"].post(
        url, headers=keys["specialist"], **_upload(samples.jpeg(MAX_BYTES))
    )
    assert just_fits.status_code == 201 and just_fits.json()["size"] == MAX_BYTES
    bad_kind = await suite["warranty"].post(
        url, headers=keys["specialist"], **_upload(samples.png(), kind="selfie")
    )
    assert bad_kind.status_code == 422 and bad_kind.json()["errors"][0]["field"] == "kind"

    listed = (await suite["warranty"].get(url, headers=keys["manager"])).json()["items"]
    assert len(listed) == 5
    got = await suite["warranty"].get(made["form.pdf"]["href"], headers=keys["manager"])
    assert got.status_code == 200 and got.content == samples.pdf()
    assert (
        got.headers["content-type"] == "application/pdf"
        and got.headers["x-content-type-options"] == "nosniff"
    )

    # A retried upload under the same key is the same file; the key with other bytes is a 409.
    keyed = keys["specialist"] | {"Idempotency-Key": "upload-1"}
    first = await suite["warranty"].post(url, headers=keyed, **_upload(samples.png(), "a.png", "invoice"))
    again = await suite["warranty"].post(url, headers=keyed, **_upload(samples.png(), "a.png", "invoice"))
    assert first.json()["attachment_id"] == again.json()["attachment_id"]
    other = await suite["warranty"].post(url, headers=keyed, **_upload(samples.png(3, 3), "a.png", "invoice"))
    assert other.status_code == 409


async def test_a_dealer_cannot_fetch_another_channels_files(two_dealers, keys, ticket) -> None:
    suite = two_dealers
    case_id = await _case(suite, keys, ticket(ticket_id="T-A2"))
    url = f"/v1/cases/{case_id}/attachments"
    mine = await suite["warranty"].post(
        url, headers=keys["dealer"], **_upload(samples.png(), "invoice.png", "invoice")
    )
    assert mine.status_code == 201 and mine.json()["role"] == "dealer"
    href = mine.json()["href"]
    assert (await suite["warranty"].get(href, headers=keys["dealer"])).status_code == 200
    assert (await suite["warranty"].get(url, headers=keys["dealer"])).json()["items"][0]["href"] == href
    for stranger in (OTHER_DEALER, keys["regional_manager"]):
        assert (await suite["warranty"].get(href, headers=stranger)).status_code == 404
        assert (await suite["warranty"].get(url, headers=stranger)).status_code == 404
        assert (
            await suite["warranty"].post(url, headers=stranger, **_upload(samples.png()))
        ).status_code == 404
    assert (await suite["warranty"].get(href)).status_code == 401
    assert (await suite["warranty"].get(href, headers=keys["engineering"])).status_code == 200


async def test_evidence_with_an_attachment_settles_a_needs_evidence_decision(suite, keys, ticket) -> None:
    body = ticket(ticket_id="T-A3")
    body["product"] = body["product"] | {"service_card_stamped": False}
    case_id = await _case(suite, keys, body)
    evidence = f"/v1/cases/{case_id}/evidence"
    res = await suite["warranty"].post(
        evidence, json={"confirmation": {"via": "phone"}}, headers=keys["manager"]
    )
    assert res.json()["latest_decision"]["reasons"] == ["missing_documents"]
    card = await suite["warranty"].post(
        f"/v1/cases/{case_id}/attachments",
        headers=keys["manager"],
        **_upload(samples.jpeg(), "card.jpg", "service_card"),
    )
    res = await suite["warranty"].post(
        evidence, json={"attachments": [card.json()["attachment_id"]]}, headers=keys["manager"]
    )
    assert res.status_code == 201, res.text
    assert res.json()["latest_decision"]["decision"] == "covered" and res.json()["service_card_attached"]
    unknown = await suite["warranty"].post(
        evidence, json={"attachments": ["F-0000000000000000"]}, headers=keys["manager"]
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "attachments.0"


async def test_the_customer_adds_a_photo_with_the_case_number_and_phone(suite, keys, ticket) -> None:
    case_id = await _case(suite, keys, ticket(ticket_id="T-A4"))  # phone 13812345678
    url = f"/v1/public/cases/{case_id}/attachments"
    photo = {"files": {"file": ("damage.png", samples.png(), "image/png")}}
    wrong = await suite["warranty"].post(url, data={"phone_last4": "0000"}, **photo)
    assert wrong.status_code == 404
    res = await suite["warranty"].post(url, data={"phone_last4": "5678"}, **photo)
    assert res.status_code == 201, res.text
    assert "sha256" not in res.json() and res.json()["kind"] == "damage"
    exe = await suite["warranty"].post(
        url,
        data={"phone_last4": "5678"},
        files={"file": ("x.png", samples.windows_executable(), "image/png")},
    )
    assert exe.status_code == 415
    items = (await suite["warranty"].get(f"/v1/cases/{case_id}/attachments", headers=keys["manager"])).json()[
        "items"
    ]
    assert [(a["uploaded_by"], a["role"]) for a in items] == [("customer", "customer")]


async def test_the_customer_activates_the_warranty_with_a_photo_of_the_invoice(suite, keys) -> None:
    url = "/v1/public/units/XF3502410000077/activation"
    form = {"phone": "139 0000 1111", "purchase_date": "2026-10-20"}
    invoice = {"invoice": ("fapiao.jpg", samples.jpeg(), "image/jpeg")}
    assert (await suite["warranty"].post(url, data=form | {"phone": "12"}, files=invoice)).status_code == 422
    future = str(datetime.now(UTC).date().replace(year=2999))
    assert (
        await suite["warranty"].post(url, data=form | {"purchase_date": future}, files=invoice)
    ).status_code == 422
    res = await suite["warranty"].post(url, data=form, files=invoice)
    assert res.status_code == 201, res.text
    assert (res.json()["model"], res.json()["activated"]) == ("YD-XF350", True)
    unit = (
        await suite["warranty"].get("/v1/warranty/units/XF3502410000077", headers=keys["specialist"])
    ).json()
    assert (unit["sale"]["source"], unit["sale"]["purchase_date"]) == ("customer", "2026-10-20")
    assert unit["sale"]["customer_phone"] == "+8613900001111" and unit["sale"]["invoice_attachment"]
    hidden = (
        await suite["warranty"].get("/v1/warranty/units/XF3502410000077", headers=keys["engineering"])
    ).json()
    assert "customer_phone" not in hidden["sale"]
    files = await suite["warranty"].get(
        "/v1/warranty/units/XF3502410000077/attachments", headers=keys["manager"]
    )
    assert [a["kind"] for a in files.json()["items"]] == ["invoice"]
