"""Remedies and files through the console against the whole suite (real Kafka, real store).

In the browser: the specialist records the customer's choice and takes the remedy to its end; a customer
adds a photo from the status page. Without a browser: the console forwards staff uploads as multipart
and downloads with the user's key, says 413/415 in plain words, carries an exchange step by step, and
forwards the public warranty activation.
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shared.attachments import MAX_BYTES
from shared.periods import china_today
from shared.testing import samples
from shared.testing.fixtures import eventually
from shared.testing.identities import mobile_phone

pytestmark = pytest.mark.integration


def new_serial() -> str:
    """A YD-XF250 made in May 2024 (its batch), never seen before."""
    return f"XF2502405{random.randrange(10**6):06d}"


async def flash(page) -> str:
    return (await page.text_content("#flash") or "").strip()


async def submit(page, selector: str) -> None:
    async with page.expect_navigation():
        await page.click(selector)


async def warranty_case(suite, keys, case_id: str) -> dict[str, Any] | None:
    res = await suite.api("warranty").get(f"/v1/cases/{case_id}", headers={"X-API-Key": keys["manager"]})
    return res.json() if res.status_code == 200 else None


async def liu_case_with_options(suite, keys, serial: str, *, invoice_amount: str | None = None) -> str:
    """A dealer's complaint on a unit bought three days ago, handled by sp-liu (the specialist's key), the
    fault confirmed: the decision offers return, exchange or repair (the 7-day window)."""
    case_id, decision = await liu_case(suite, keys, serial, invoice_amount=invoice_amount)
    assert decision["options"] == ["return", "exchange", "free_repair"], decision
    return case_id


async def liu_case(
    suite, keys, serial: str, *, invoice_amount: str | None = None, days_ago: int = 3, **evidence: Any
) -> tuple[str, dict[str, Any]]:
    bought = china_today() - timedelta(days=days_ago)
    if invoice_amount:
        sale = {
            "invoice_no": f"44{random.randrange(10**6):06d}",
            "invoice_date": str(bought),
            "invoice_amount": invoice_amount,
        }
        res = await suite.api("warranty").post(
            f"/v1/warranty/units/{serial}/sale", json=sale, headers={"X-API-Key": keys["dealer"]}
        )
        assert res.status_code == 201, res.text
    res = await suite.api("intake").post(
        "/v1/complaints/dealer",
        headers={"X-API-Key": keys["dealer"]},
        json={
            "dealer_code": "D-GZ-001",
            "ticket_id": f"T-{uuid.uuid4().hex[:8]}",
            "description": "新风机开机后电机异响，风量明显变小",
            "customer": {
                "name": "王女士",
                "phone": mobile_phone(),
                "address": "广东省广州市天河区体育西路1号",
            },
            "product": {
                "model": "YD-XF250",
                "serial_no": serial,
                "purchase_date": str(bought),
                "invoice_no": "44001234",
                "service_card_stamped": True,
            },
        },
    )
    assert res.status_code == 202, res.text
    case_id = res.json()["case_id"]
    await suite.with_liu(case_id)

    async def liu_known() -> bool:
        facts = await warranty_case(suite, keys, case_id)
        return bool(facts and facts.get("specialist_id") == "sp-liu")

    await eventually(liu_known, timeout_s=30)
    res = await suite.api("warranty").post(
        f"/v1/cases/{case_id}/evidence",
        headers={"X-API-Key": keys["manager"]},
        json={"confirmation": {"via": "phone"}, "note": "电话确认电机异响"} | evidence,
    )
    assert res.status_code == 201, res.text
    return case_id, res.json()["latest_decision"]


@asynccontextmanager
async def as_role(suite, keys, role: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=suite.console, timeout=30, headers={"Origin": suite.console}
    ) as client:
        r = await client.post("/signin", data={"api_key": keys[role]})
        assert r.status_code == 303, r.text
        yield client


def flash_of(page: str) -> str:
    found = re.search(r'<div id="flash"[^>]*>(.*?)</div>', page, re.S)
    return re.sub(r"\s+", " ", found.group(1)).strip() if found else ""


# ---------------------------------------------------------------------------------------------- browser


@pytest.mark.browser
async def test_the_specialist_records_the_customers_choice_and_the_remedy_to_its_end(
    suite, pages, keys
) -> None:
    serial = new_serial()
    case_id = await liu_case_with_options(suite, keys, serial, invoice_amount="3980.00")

    page = await pages.signed_in("specialist")
    await page.goto(f"{suite.console}/cases/{case_id}")
    await page.wait_for_selector("#remedy-choice-form")
    offered = [await o.get_attribute("value") for o in await page.locator("#remedy-choice option").all()]
    assert offered == ["return", "exchange", "free_repair"]  # what the decision offers, nothing else
    await page.select_option("#remedy-choice", "return")
    await page.select_option("#remedy-via", "phone")
    await page.fill("#remedy-note", "客户要求退货")
    await submit(page, "#remedy-choice-form button[type=submit]")
    assert "已记录客户的选择" in await flash(page)
    remedy = page.locator('#remedies .remedy[data-remedy="return"]')
    assert await remedy.get_attribute("data-status") == "open"
    assert await remedy.locator('li[data-step="goods_received"][data-done="false"]').count() == 1

    # Refused by warranty, in its own words: a return is refunded at the invoice price, nothing else.
    await page.fill("#amount", "100.00")
    await submit(page, "#step-refunded-form button[type=submit]")
    refused = await flash(page)
    assert "422" in refused and "invoice price" in refused, refused
    await pages.shot(page, "case-remedy-refused")

    await submit(page, "#step-goods_received-form button[type=submit]")
    assert "已记录此步骤" in await flash(page)
    await submit(page, "#step-refunded-form button[type=submit]")  # blank: the invoice price of the sale
    assert "全部完成" in await flash(page)
    remedy = page.locator('#remedies .remedy[data-remedy="return"]')
    assert await remedy.get_attribute("data-status") == "completed"
    assert await remedy.locator('li[data-done="true"]').count() == 2
    assert (await remedy.locator(".refund-amount").text_content() or "").strip() == "¥3980.00"
    assert (
        await page.locator("#act-remedy form").count() == 0
    )  # nothing left to record, nothing to choose again
    assert await page.is_visible("#remedy-done")
    await pages.shot(page, "case-remedy-specialist")

    done = (
        await suite.api("warranty").get(
            f"/v1/cases/{case_id}/remedies", headers={"X-API-Key": keys["manager"]}
        )
    ).json()["items"][0]
    assert (done["status"], [s["step"] for s in done["steps"]]) == (
        "completed",
        ["goods_received", "refunded"],
    )
    unit = await suite.api("warranty").get(
        f"/v1/warranty/units/{serial}", headers={"X-API-Key": keys["manager"]}
    )
    assert unit.json()["status"] == "returned"

    # Finance, who pays the refund, sees its amount, as warranty serves it to finance.
    finance = await pages.signed_in("finance")
    await finance.goto(f"{suite.console}/cases/{case_id}")
    paid = finance.locator('#remedies .remedy[data-remedy="return"][data-status="completed"]')
    await paid.wait_for()
    assert (await paid.locator(".refund-amount").text_content() or "").strip() == "¥3980.00"
    await pages.shot(finance, "case-remedy-finance")

    # Everyone else sees the remedy to its end, never its amount: the manager, and a specialist the case
    # is not assigned to (sp-liu, once the manager has moved the case to sp-ma).
    moved = await suite.api("dispatch").post(
        f"/v1/cases/{case_id}/assignment",
        headers={"X-API-Key": keys["manager"]},
        json={"specialist_id": "sp-ma", "reason": "测试：转马工，刘工不再负责"},
    )
    assert moved.status_code in (200, 201), moved.text
    for role in ("manager", "specialist"):
        other = await pages.signed_in(role)
        await other.goto(f"{suite.console}/cases/{case_id}")
        await other.wait_for_selector('#remedies .remedy[data-status="completed"]')
        # The amount as a value, not as digits: a random event id on the page held "3980" once.
        amount = r"(?<![\w-])[¥￥]?3,?980(\.00)?(?![\w-])"
        assert re.search(amount, await other.content()) is None, role
        assert await other.locator(".refund-amount").count() == 0, role


@pytest.mark.browser
async def test_a_customer_adds_a_photo_from_the_status_page(suite, pages, keys) -> None:
    phone = mobile_phone()
    case_id = await suite.hotline_case(phone=phone, transcript="新风机外壳摔裂，想拍照给售后看看")
    await suite.assigned(case_id)
    await eventually(lambda: warranty_case(suite, keys, case_id), timeout_s=30)

    page = await pages.new(phone=True)
    await page.goto(f"{suite.console}/status")
    await page.fill("#case_id", case_id)
    await page.fill("#phone_last4", phone[-4:])
    await submit(page, "#status-submit")
    await page.wait_for_selector("#status-attach-form")
    assert await page.get_attribute("#status-file", "accept") == "image/*,application/pdf"
    assert await page.get_attribute("#status-file", "capture") is not None  # the phone's camera

    # An executable named .jpg is refused, in plain words; the page stays the customer's status page.
    await page.set_input_files(
        "#status-file",
        files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": samples.windows_executable()}],
    )
    await submit(page, "#status-attach-submit")
    assert "不支持此文件类型" in (await page.text_content("#upload-error") or "")
    assert await page.is_visible("#status-result")

    photo = samples.jpeg(40_000)
    await page.select_option("#status-kind", "damage")
    await page.set_input_files(
        "#status-file", files=[{"name": "外壳裂缝.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    await submit(page, "#status-attach-submit")
    assert "外壳裂缝.jpg" in (await page.text_content("#upload-ok") or "")
    assert await page.is_visible("#status-result") and await page.is_visible("#status-attach-form")
    await pages.shot(page, "customer-status-photo-phone")

    # The activation page is one tap away (as from the product's QR page).
    await page.click("#activation-link")
    await page.wait_for_selector("#activation-form")
    assert await page.get_attribute("#invoice", "accept") == "image/*,application/pdf"
    await pages.shot(page, "customer-activation-phone")

    files = (
        await suite.api("warranty").get(
            f"/v1/cases/{case_id}/attachments", headers={"X-API-Key": keys["manager"]}
        )
    ).json()["items"]
    assert [(f["kind"], f["role"], f["uploaded_by"], f["sha256"]) for f in files] == [
        ("damage", "customer", "customer", hashlib.sha256(photo).hexdigest())
    ]

    # The staff see it on the case page, and download it through the console with their own key.
    staff = await pages.signed_in("manager")
    await staff.goto(f"{suite.console}/cases/{case_id}")
    row = staff.locator(f'#attachments tr[data-attachment-id="{files[0]["attachment_id"]}"]')
    assert "客户" in (await row.text_content() or "")
    assert (await row.locator("code.sha").text_content() or "").strip() == files[0]["sha256"][:12]
    href = await row.locator("a.download").get_attribute("href")
    got = await staff.request.get(f"{suite.console}{href}")
    assert got.status == 200 and await got.body() == photo and got.headers["content-type"] == "image/jpeg"
    await pages.shot(staff, "case-attachments")


# ---------------------------------------------------------------------------------------------- no browser


async def test_staff_uploads_are_forwarded_as_multipart_and_refusals_said_in_plain_words(suite, keys) -> None:
    case_id = await suite.hotline_case(phone=mobile_phone(), transcript="新风机电机异响，附上发票照片")
    await suite.with_liu(case_id)
    await eventually(lambda: warranty_case(suite, keys, case_id), timeout_s=30)
    png = samples.png(8, 8)
    async with as_role(suite, keys, "specialist") as sp:
        page = (await sp.get(f"/cases/{case_id}")).text
        key = re.search(r'name="idempotency_key" value="(attach-[0-9a-f]+)"', page).group(1)
        upload = {
            "files": {"file": ("发票.png", png, "image/png")},
            "data": {"kind": "invoice", "note": "购机发票", "idempotency_key": key},
        }
        first = await sp.post(f"/cases/{case_id}/attachments", **upload)
        assert first.status_code == 303 and first.headers["location"] == f"/cases/{case_id}#attachments"
        again = await sp.post(f"/cases/{case_id}/attachments", **upload)  # a double submit: one file
        assert again.status_code == 303
        page = (await sp.get(f"/cases/{case_id}")).text
        assert "发票.png" in flash_of(page) or "已上传" in flash_of(page)

        files = (
            await suite.api("warranty").get(
                f"/v1/cases/{case_id}/attachments", headers={"X-API-Key": keys["manager"]}
            )
        ).json()["items"]
        assert len(files) == 1
        f = files[0]
        assert (f["kind"], f["uploaded_by"], f["role"], f["content_type"], f["note"]) == (
            "invoice",
            "sp-liu",
            "specialist",
            "image/png",
            "购机发票",
        )
        assert f["sha256"] == hashlib.sha256(png).hexdigest()
        assert f["sha256"][:12] in page and f'href="/attachments/{f["attachment_id"]}"' in page

        got = await sp.get(f"/attachments/{f['attachment_id']}")
        assert got.status_code == 200 and got.content == png
        assert (
            got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
        )

        # 415: the bytes are an executable whatever the name says; 413: more than 10 MB.
        bad = await sp.post(
            f"/cases/{case_id}/attachments",
            follow_redirects=True,
            files={"file": ("photo.jpg", samples.elf_executable(), "image/jpeg")},
            data={"kind": "damage"},
        )
        assert "不支持此文件类型" in flash_of(bad.text) and "(415)" in flash_of(bad.text)
        big = await sp.post(
            f"/cases/{case_id}/attachments",
            follow_redirects=True,
            files={"file": ("big.jpg", samples.jpeg(MAX_BYTES + 1), "image/jpeg")},
            data={"kind": "damage"},
        )
        assert "文件太大" in flash_of(big.text) and "10 MB" in flash_of(big.text)
        none = await sp.post(
            f"/cases/{case_id}/attachments",
            follow_redirects=True,
            data={"kind": "damage"},
            files={"file": ("", b"", "application/octet-stream")},
        )
        assert "请选择" in flash_of(none.text)
    after = (
        await suite.api("warranty").get(
            f"/v1/cases/{case_id}/attachments", headers={"X-API-Key": keys["manager"]}
        )
    ).json()["items"]
    assert len(after) == 1

    # Another channel's case: the dealer cannot download its file through the console either.
    async with as_role(suite, keys, "dealer") as dealer:
        assert (await dealer.get(f"/attachments/{f['attachment_id']}")).status_code == 404


async def test_an_exchange_is_carried_step_by_step_through_the_console(suite, keys) -> None:
    serial = new_serial()
    case_id = await liu_case_with_options(suite, keys, serial)
    async with as_role(suite, keys, "specialist") as sp:
        chosen = await sp.post(
            f"/cases/{case_id}/remedies",
            follow_redirects=True,
            data={"remedy": "exchange", "via": "wechat", "idempotency_key": f"k-{uuid.uuid4().hex}"},
        )
        assert "已记录客户的选择" in flash_of(chosen.text)
        remedy = (
            await suite.api("warranty").get(
                f"/v1/cases/{case_id}/remedies", headers={"X-API-Key": keys["manager"]}
            )
        ).json()["items"][0]
        steps = f"/cases/{case_id}/remedies/{remedy['remedy_id']}/steps"
        assert f'action="{steps}"' in chosen.text and 'id="step-new_unit_issued-form"' in chosen.text

        other_model = await sp.post(
            steps, follow_redirects=True, data={"step": "new_unit_issued", "new_serial": "XF3502411000001"}
        )
        assert "(422)" in flash_of(other_model.text) and "new_serial" in other_model.text
        late = await sp.post(
            steps,
            follow_redirects=True,
            data={"step": "old_unit_received", "on": str(china_today() + timedelta(days=1))},
        )
        assert "(422)" in flash_of(late.text) and "future" in late.text
        new = f"XF2502411{random.randrange(10**6):06d}"
        issued = await sp.post(
            steps, follow_redirects=True, data={"step": "new_unit_issued", "new_serial": new}
        )
        assert "已记录此步骤" in flash_of(issued.text)
        done = await sp.post(
            steps, follow_redirects=True, data={"step": "old_unit_received", "note": "旧机已寄回"}
        )
        assert "全部完成" in flash_of(done.text)
        assert new in done.text and 'data-status="completed"' in done.text
    remedy = (
        await suite.api("warranty").get(
            f"/v1/cases/{case_id}/remedies", headers={"X-API-Key": keys["manager"]}
        )
    ).json()["items"][0]
    assert (remedy["status"], remedy["new_serial"]) == ("completed", new)

    # Only the case's specialist or the manager records remedies: warranty refuses the others.
    async with as_role(suite, keys, "engineering") as eng:
        refused = await eng.post(
            f"/cases/{case_id}/remedies", follow_redirects=True, data={"remedy": "return"}
        )
        assert refused.status_code == 403  # the console's own page refusal for this role


async def test_the_public_activation_page_forwards_to_warranty(suite, keys) -> None:
    serial = new_serial()
    phone = mobile_phone()
    async with httpx.AsyncClient(
        base_url=suite.console, timeout=30, headers={"Origin": suite.console}
    ) as anon:
        form = await anon.get("/activation", params={"serial_no": serial})
        assert form.status_code == 200 and f'value="{serial}"' in form.text
        assert 'accept="image/*,application/pdf"' in form.text and "capture" in form.text
        status = await anon.get("/status")
        assert 'href="/activation"' in status.text

        fields = {
            "serial_no": serial,
            "phone": phone,
            "purchase_date": str(china_today() + timedelta(days=2)),
        }
        future = await anon.post(
            "/activation", data=fields, files={"invoice": ("发票.png", samples.png(), "image/png")}
        )
        assert future.status_code == 422 and 'data-field="purchase_date"' in future.text

        exe = await anon.post(
            "/activation",
            data=fields | {"purchase_date": str(china_today())},
            files={"invoice": ("发票.jpg", samples.windows_executable(), "image/jpeg")},
        )
        assert exe.status_code == 415 and "不支持此文件类型" in exe.text

        bought = str(china_today() - timedelta(days=10))
        done = await anon.post(
            "/activation",
            data=fields | {"purchase_date": bought},
            files={"invoice": ("发票.png", samples.png(), "image/png")},
        )
        assert done.status_code == 200, done.text
        assert 'id="activated"' in done.text and serial in done.text and bought in done.text
    unit = await suite.api("warranty").get(
        f"/v1/warranty/units/{serial}", headers={"X-API-Key": keys["manager"]}
    )
    sale = unit.json()["sale"]
    assert (sale["source"], sale["purchase_date"]) == ("customer", bought) and sale["invoice_attachment"]
    assert sale["customer_phone"].endswith(phone[-4:])


async def test_a_replacement_is_quoted_agreed_and_shipped_through_the_console(suite, keys) -> None:
    """Replacement with depreciation: the assigned specialist's quote (through parts), the customer's
    agreement before anything ships, then shipped and delivered; the quote's amount on her page only."""
    res = await suite.api("parts").post(
        "/v1/price-lists",
        headers={"X-API-Key": keys["finance"]},
        json={
            "version": f"v-{uuid.uuid4().hex[:6]}",
            "effective_from": "2026-01-01",
            "items": {
                "YD-XF250": {"name": "YD-XF250 新风机", "cost": "2100.00", "list_price": "3980.00"},
                "labour_hour": {"name": "维修工时", "cost": "60.00", "list_price": "80.00"},
            },
        },
    )
    assert res.status_code == 201, res.text
    case_id, decision = await liu_case(
        suite, keys, new_serial(), days_ago=200, fault_kind="software", remote_update_possible=False
    )
    assert decision["remedy"] == "replacement_with_depreciation", decision
    async with as_role(suite, keys, "specialist") as sp:
        chosen = await sp.post(
            f"/cases/{case_id}/remedies",
            follow_redirects=True,
            data={"remedy": "replacement", "via": "phone"},
        )
        assert "已记录客户的选择" in flash_of(chosen.text)
        assert 'id="remedy-quote-form"' in chosen.text and '<option value="YD-XF250">' in chosen.text
        remedy_id = re.search(r'data-remedy-id="(RM-[0-9A-Z]{10})"', chosen.text).group(1)
        steps = f"/cases/{case_id}/remedies/{remedy_id}/steps"

        early = await sp.post(steps, follow_redirects=True, data={"step": "shipped", "carrier": "顺丰"})
        assert "(409)" in flash_of(early.text) and "customer_agreed" in flash_of(early.text)

        async def quoted() -> str | None:
            # parts learns of the remedy from its event: until then the quote is refused (409)
            r = await sp.post(
                f"/cases/{case_id}/remedies/{remedy_id}/quote",
                follow_redirects=True,
                data={"replacement_item": "YD-XF250", "idempotency_key": f"k-{uuid.uuid4().hex}"},
            )
            return flash_of(r.text) if "已出具" in flash_of(r.text) else None

        said = await eventually(quoted, timeout_s=20, interval_s=0.5)
        total = re.search(r"合计 ([0-9.]+) 元", said).group(1)

        async def marked() -> str | None:
            page = (await sp.get(f"/cases/{case_id}")).text
            return page if 'data-step="quote_issued" data-done="true"' in page else None

        page = await eventually(marked, timeout_s=20)
        assert f"¥{total}" in page and 'class="small remedy-quote"' in page
        for step in (
            {"step": "customer_agreed", "via": "signed_form"},
            {"step": "shipped", "carrier": "顺丰", "tracking_no": "SF1234567890"},
            {"step": "delivered"},
        ):
            done = await sp.post(steps, follow_redirects=True, data=step)
            assert "已记录" in flash_of(done.text), flash_of(done.text)
        assert "全部完成" in flash_of(done.text) and "SF1234567890" in done.text
    async with as_role(suite, keys, "manager") as manager:
        page = (await manager.get(f"/cases/{case_id}")).text
        assert 'data-status="completed"' in page and "remedy-quote" not in page and f"¥{total}" not in page
