"""The console's pages in headless Chromium against the whole suite (real Kafka, real store).

Each test is one person's day: the front desk takes a call, the manager reassigns, the specialist
replies, quotes and closes, a dealer sees only their own cases, engineering meets a closed gate, the
customer reads the reply, and a case page follows another service's event without a reload.
"""

from __future__ import annotations

import asyncio
import io
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from shared.contracts.ids import is_case_id
from shared.periods import china_today
from shared.testing.fixtures import eventually
from shared.testing.identities import mobile_phone, serial_no

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def flash(page) -> str:
    return (await page.text_content("#flash") or "").strip()


async def submit(page, selector: str) -> None:
    """Click a form's button and wait for the page it leads to (never read the old page's message)."""
    async with page.expect_navigation():
        await page.click(selector)


async def test_front_desk_takes_a_call_and_sees_the_callers_open_cases(suite, pages) -> None:
    phone = mobile_phone()
    page = await pages.new()
    await page.goto(f"{suite.console}/hotline")
    assert "/signin?next=" in page.url  # not signed in: the sign-in page, then back
    await pages.shot(page, "sign-in")
    await page.click('[data-role="front_desk"]')  # the development role picker
    await page.wait_for_selector("#call-form")
    assert page.url.endswith("/hotline")
    await page.fill("#caller_name", "张先生")
    await page.fill("#phone", phone)
    await page.fill("#transcript", "新风机滤芯堵了，想买两个新滤芯")
    await page.fill("#serial_no", "XF2502405001234")
    await submit(page, "#submit-call")
    case_id = (await page.text_content("#accepted-case") or "").strip()
    assert is_case_id(case_id)
    await suite.assigned(case_id)

    # The next call from the same phone: the open case shows while the caller is on the line.
    await page.fill("#phone", phone)
    await page.press("#phone", "Tab")
    await page.wait_for_selector(f'.open-cases-phone a[href="/cases/{case_id}"]')
    await page.fill("#serial_no", "XF2502405001234")
    await page.press("#serial_no", "Tab")
    await page.wait_for_selector(f'.open-cases-serial_no a[href="/cases/{case_id}"]')
    await pages.shot(page, "hotline-call-entry")


async def test_manager_reassigns_a_case_with_a_reason(suite, pages) -> None:
    case_id = await suite.hotline_case(phone=mobile_phone(), transcript="新风机开机后电机异响，风量变小")
    case = await suite.assigned(case_id)
    assert case["assignee"] == "sp-liu"

    page = await pages.signed_in("manager")
    assert page.url.endswith("/triage")
    await page.wait_for_selector(f'#col-open [data-case-id="{case_id}"]')
    assert await page.locator('#workload [data-specialist="sp-ma"]').count() == 1
    await pages.shot(page, "triage-board")

    await page.click(f'#col-open [data-case-id="{case_id}"] a.id')
    await page.select_option("#specialist_id", "sp-ma")
    await page.fill("#reason", "刘工休假，马工接手")
    await submit(page, "#reassign-form button[type=submit]")
    assert "sp-ma" in await flash(page)
    assert (await page.text_content("#case-assignee") or "").strip() == "sp-ma"
    after = await suite.case(case_id)
    assert after["assignments"][-1]["reason"] == "刘工休假，马工接手"
    assert after["assignments"][-1]["by"] == "mgr-chen"
    # dispatch's own timeline line arrives (live) once it has read its event back
    await page.wait_for_selector('#live-region li[data-event-type="case.reassigned"]')
    await pages.shot(page, "case-manager")


async def test_specialist_replies_quotes_and_closes(suite, pages, keys) -> None:
    version = f"v-{uuid.uuid4().hex[:6]}"
    finance = await pages.signed_in("finance")
    assert finance.url.endswith("/prices")
    if not await finance.is_visible("#version"):
        await finance.click("#act-price-list summary")
    await finance.fill("#version", version)
    # A past date: the list is in effect at once, whatever the hour the test runs at.
    await finance.fill("#effective_from", "2026-01-01")
    await finance.fill(
        "#items",
        "YD-LX-H13-250 | H13 高效滤芯（250 机型） | 150.00 | 268.00\n"
        "YD-LX-C-600 | 活性炭复合滤网 | 90.00 | 158.00",
    )
    await submit(finance, "#price-list-form button[type=submit]")
    assert version in await flash(finance)
    await finance.wait_for_selector(f'.price-list[data-version="{version}"]')
    await pages.shot(finance, "price-lists")

    purchasing = await pages.signed_in("purchasing")
    await purchasing.goto(f"{suite.console}/stock")
    await purchasing.fill("#item", "YD-LX-H13-250")
    await purchasing.fill("#name", "H13 高效滤芯（250 机型）")
    await purchasing.fill("#delta", "5")
    await purchasing.fill("#reason", "供应商到货")
    await submit(purchasing, "#stock-form button[type=submit]")
    assert "YD-LX-H13-250" in await flash(purchasing)

    phone = mobile_phone()
    case_id = await suite.hotline_case(
        phone=phone,
        transcript="滤芯用了一年需要更换，想购买新的 H13 滤芯",
        product={"model": "YD-XF250", "serial_no": "XF2502405001234"},
    )
    await suite.assigned(case_id, decided=True)

    page = await pages.signed_in("specialist")
    assert page.url.endswith("/my")
    await page.click(f'tr[data-case-id="{case_id}"] a')
    await page.wait_for_selector("#warranty-decision")
    await page.fill("#message", "您好，已为您准备 H13 滤芯报价，明天上门更换")
    await submit(page, "#reply-form button[type=submit]")
    assert "已答复客户" in await flash(page)
    assert "明天上门更换" in (await page.text_content("#replies") or "")

    async def quoted() -> bool:
        await page.select_option("#item-0", "YD-LX-H13-250")
        await page.fill("#qty-0", "1")
        await page.select_option("#item-1", "YD-LX-C-600")  # none in stock: purchasing is told
        await page.fill("#qty-1", "2")
        await submit(page, "#quote-form button[type=submit]")
        return "268.00" in await flash(page)  # parts may still be reading the assignment

    await eventually(quoted, timeout_s=15, interval_s=0.5)
    assert "缺货" in await flash(page)  # what the customer is told about the missing item
    await page.wait_for_selector('#quotes .price:has-text("¥268.00")')
    await pages.shot(page, "case-specialist")

    await page.click("#act-close summary")
    await page.fill("#resolution", "已上门更换 H13 滤芯，运行正常")
    await page.select_option("#outcome", "consumable_supplied")
    await submit(page, "#close-form button[type=submit]")
    assert "已结案" in await flash(page)
    assert await page.get_attribute("#case-status", "data-status") == "closed"
    assert await page.is_visible("#follow-up-form")
    closed = await suite.case(case_id)
    assert closed["status"] == "closed" and closed["outcome"] == "consumable_supplied"

    # Purchasing sees what the quote could not cover, and books it in when it arrives.
    await purchasing.goto(f"{suite.console}/purchases")
    row = purchasing.locator('#purchases-table tr[data-request-id]:has-text("YD-LX-C-600")')
    await row.locator('select[name="status"]').select_option("received")
    async with purchasing.expect_navigation():
        await row.locator("button[type=submit]").click()
    assert "已更新" in await flash(purchasing)
    await pages.shot(purchasing, "purchase-requests")
    stock = await suite.api("parts").get("/v1/stock", headers={"X-API-Key": keys["purchasing"]})
    on_hand = {i["item"]: i["on_hand"] for i in stock.json()["items"]}
    assert on_hand["YD-LX-H13-250"] == 5 and on_hand["YD-LX-C-600"] == 2  # a quote takes nothing out


async def test_dealer_sees_only_their_own_cases_and_no_prices(suite, pages) -> None:
    others = await suite.hotline_case(phone=mobile_phone(), transcript="电机异响")
    page = await pages.signed_in("dealer")
    await page.goto(f"{suite.console}/submit")
    ticket = f"T-{uuid.uuid4().hex[:8]}"
    await page.fill("#ticket_id", ticket)
    await page.fill("#customer_name", "王女士")
    await page.fill("#phone", "138 1234 5678")
    await page.fill("#address", "广东省广州市天河区体育西路1号")
    await page.fill("#model", "YD-XF250")
    await page.fill("#serial_no", "XF2502405001234")
    await page.fill("#purchase_date", "2026-03-18")
    await page.fill("#invoice_no", "44001234")
    await page.fill("#description", "新风机开机后电机异响，风量明显变小")
    await submit(page, "#submit-complaint")
    mine = (await page.text_content("#accepted-case") or "").strip()
    await suite.assigned(mine)
    await suite.assigned(others)

    await page.goto(f"{suite.console}/cases")
    await page.wait_for_selector(f'tr[data-case-id="{mine}"]')
    assert await page.locator(f'tr[data-case-id="{others}"]').count() == 0
    channels = await page.locator("tr[data-case-id] td:nth-child(3)").all_text_contents()
    assert channels and all("经销商" in c for c in channels)
    await pages.shot(page, "dealer-cases")

    await page.click(f'tr[data-case-id="{mine}"] a')
    await page.wait_for_selector("#replies")
    body = await page.text_content("body") or ""
    assert "¥" not in body and "元" not in body
    for internal in ("#timeline", "#warranty", "#parts", "#quotes", "#actions form"):
        assert await page.locator(internal).count() == 0, internal

    res = await page.goto(f"{suite.console}/cases/{others}")
    assert res is not None and res.status == 404
    res = await page.goto(f"{suite.console}/prices")
    assert res is not None and res.status == 403


async def test_engineering_gate_refuses_with_what_is_missing(suite, pages, keys) -> None:
    page = await pages.signed_in("engineering")
    assert page.url.endswith("/projects")
    await page.click("#act-open summary")
    await page.fill("#client", "深圳市南山区某实验学校")
    await page.fill("#supervisor", "深圳某工程监理有限公司")
    await page.fill("#site", "深圳市南山区学府路 88 号")
    await page.fill("#contract_value", "1286000")
    serial = serial_no("XF1K25")
    await page.fill("#units", f"YD-XF1000 | {serial}")
    await submit(page, "#open-project-form button[type=submit]")
    await page.wait_for_selector("#checklist")
    project_id = page.url.rsplit("/", 1)[-1]

    quote = {
        "#installer": "广州甲安装工程有限公司",
        "#q-items": "新风主机安装 | 台 | 10 | 800",
        "#starts_on": "2026-12-01",
        "#finishes_on": "2026-12-20",
        "#scope": "新风主机及风管安装",
        "#requirements": "按图施工",
        "#payment_terms": "按进度付款",
        "#maintenance_terms": "一年免费维护",
    }
    for selector, value in quote.items():
        await page.fill(selector, value)
    await submit(page, "#quote-form button[type=submit]")
    assert "安装报价已录入" in await flash(page)

    await submit(page, "#submission-form button[type=submit]")
    refused = await flash(page)
    assert "409" in refused
    missing = await page.locator("#flash .missing-list li").all_text_contents()
    assert any("至少 3 家不同安装公司的报价（已有 1 家）" in m for m in missing), missing
    await page.wait_for_selector('#checklist li[data-gate="quotes_complete"][data-passed="false"] .missing')
    await pages.shot(page, "project-gate-refused")

    # Two more installers (over the API), then the submission passes and management decides.
    api = suite.api("engineering")
    for installer, price in (("佛山乙机电安装公司", "760"), ("深圳丙净化工程公司", "820")):
        res = await api.post(
            f"/v1/projects/{project_id}/quotes",
            headers={"X-API-Key": keys["engineering"]},
            json={
                "installer": installer,
                "contracting_mode": "labour_only",
                "items": [{"item": "新风主机安装", "unit": "台", "quantity": "10", "unit_price": price}],
                "scope": "安装",
                "drawings_signed_off": True,
                "schedule": {"starts_on": "2026-12-01", "finishes_on": "2026-12-25"},
                "requirements": "按图施工",
                "payment_terms": "按进度",
                "maintenance_terms": "一年",
            },
        )
        assert res.status_code == 201, res.text
    await page.reload()
    await submit(page, "#submission-form button[type=submit]")
    assert "已呈报" in await flash(page)

    management = await pages.signed_in("management")
    await management.goto(f"{suite.console}/projects/{project_id}")
    assert await management.locator("#comparison th[data-quote-id]").count() == 3
    await management.select_option("#quote_id", "Q-2")
    await management.fill("#d-reason", "价格最低，工期合理")
    await submit(management, "#decision-form button[type=submit]")
    assert "决定已记录" in await flash(management)
    assert "价格最低" in (await management.text_content("#decision") or "")

    # An acceptance step long before its time: refused, naming everything still missing.
    await page.reload()
    await page.click("#act-acceptance summary")
    await page.select_option("#step", "self_check")
    await page.fill("#ac-doc", "自检记录 ZJ-001")
    await submit(page, "#acceptance-form button[type=submit]")
    assert "409" in await flash(page)
    items = " ".join(await page.locator("#flash .missing-list li").all_text_contents())
    assert "与安装公司签订的合同" in items


async def test_customer_status_page_shows_the_reply(suite, pages, keys) -> None:
    phone = mobile_phone()
    case_id = await suite.hotline_case(phone=phone, transcript="新风机遥控器没反应")
    await suite.assigned(case_id)
    res = await suite.api("dispatch").post(
        f"/v1/cases/{case_id}/replies",
        headers={"X-API-Key": keys["manager"]},
        json={"message": "已为您寄出新遥控器，预计两天到达", "via": "sms"},
    )
    assert res.status_code == 201, res.text
    # The customer sees a reply once it was sent (notifications, local adapter in the suite).
    await eventually(lambda: _delivered(suite, case_id), timeout_s=20)

    page = await pages.new(phone=True)
    await page.goto(f"{suite.console}/status")
    await page.click("#lang-toggle")  # English behind the toggle, flipped in place
    assert await page.is_visible("text=Check your case") and await page.get_attribute("html", "lang") == "en"
    await page.click("#lang-toggle")
    await page.fill("#case_id", case_id)
    await page.fill("#phone_last4", "0000" if not phone.endswith("0000") else "1111")
    await submit(page, "#status-submit")
    assert "没有找到" in (await page.text_content(".banner.error") or "")
    await page.fill("#case_id", case_id)
    await page.fill("#phone_last4", phone[-4:])
    await submit(page, "#status-submit")
    await page.wait_for_selector("#status-result")
    assert "已为您寄出新遥控器" in (await page.text_content("#status-result") or "")
    assert (await page.text_content("#public-status") or "").strip() == "处理中"
    text = await page.text_content("body") or ""
    assert "sp-liu" not in text and phone not in text  # nothing internal, not even the phone
    await pages.shot(page, "customer-status-phone")


async def _delivered(suite, case_id: str) -> bool:
    case = await suite.case(case_id)
    return bool(case.get("replies")) and case["replies"][0]["delivery"]["state"] == "sent"


async def test_timeline_line_appears_without_reload_when_another_service_publishes(
    suite, pages, keys
) -> None:
    case_id = await suite.hotline_case(
        phone=mobile_phone(),
        transcript="新风机开机后电机异响",
        product={"model": "YD-XF250", "serial_no": "XF2502405001234"},
    )
    await suite.assigned(case_id, decided=True)
    page = await pages.signed_in("specialist", phone=True)
    await page.goto(f"{suite.console}/cases/{case_id}")
    await page.wait_for_selector("#live-status.on")  # the stream is open
    # A reload would navigate the main frame; the live stream and its fetches never do.
    reloads: list[str] = []
    page.on("framenavigated", lambda frame: reloads.append(frame.url) if frame == page.main_frame else None)
    decided = page.locator('#live-region li[data-event-type="warranty.decided"]')
    before = await decided.count()

    # Warranty publishes a new decision (evidence added through its own API, not through this page).
    res = await suite.api("warranty").post(
        f"/v1/cases/{case_id}/evidence",
        headers={"X-API-Key": keys["specialist"]},
        json={"confirmation": {"via": "phone"}, "note": "电话确认电机异响"},
    )
    assert res.status_code == 201, res.text
    # Waits on what the page shows (a locator, no script evaluated: the page's CSP forbids eval).
    await decided.nth(before).wait_for(state="attached", timeout=15_000)
    assert reloads == []
    await pages.shot(page, "case-live-phone")


async def test_statistics_page_draws_the_charts(suite, pages, keys) -> None:
    # Its own cases, whatever ran before: a dealer's, and a call taken all the way to a follow-up visit,
    # so every chart has something to draw.
    dealer = await suite.api("intake").post(
        "/v1/complaints/dealer",
        headers={"X-API-Key": keys["dealer"]},
        json={
            "dealer_code": "D-GZ-001",
            "ticket_id": f"T-{uuid.uuid4().hex[:8]}",
            "description": "电机异响",
            "customer": {
                "name": "王女士",
                "phone": mobile_phone(),
                "address": "广东省广州市天河区体育西路1号",
            },
            "product": {
                "model": "YD-XF250",
                "serial_no": serial_no("XF250"),
                "purchase_date": "2026-03-18",
                "invoice_no": "44001234",
                "service_card_stamped": True,
            },
        },
    )
    assert dealer.status_code == 202, dealer.text
    case_id = await suite.hotline_case(phone=mobile_phone(), transcript="新风机显示屏不亮")
    await suite.assigned(dealer.json()["case_id"])
    await suite.assigned(case_id)
    manager = {"X-API-Key": keys["manager"]}
    dispatch = suite.api("dispatch")
    for path, body in (
        (f"/v1/cases/{case_id}/replies", {"message": "已远程指导重启", "via": "phone"}),
        # The warranty may still want evidence: the manager closes it with a reason (R-DS-5).
        (
            f"/v1/cases/{case_id}/closure",
            {
                "resolution": "重启后正常",
                "outcome": "advice_given",
                "override_reason": "远程指导后已正常，无需保修判定",
            },
        ),
        (f"/v1/cases/{case_id}/follow-ups", {"visited_on": china_today().isoformat(), "satisfaction": 4}),
    ):
        res = await dispatch.post(path, headers=manager, json=body)
        assert res.status_code in (200, 201), res.text

    async def counted() -> bool:
        # Statistics read figures dispatch brings up to date from its own events, just after each change.
        figures = (await dispatch.get("/v1/stats", headers=manager)).json()["overall"]
        return figures["count"] >= 2 and figures["satisfaction"]["n"] >= 1

    await eventually(counted)
    page = await pages.signed_in("manager")
    await page.goto(f"{suite.console}/stats")
    assert await page.locator("svg.chart").count() >= 7
    assert int(await page.text_content("#kpi-count") or 0) >= 2
    assert await page.locator('#chart-channel svg text:has-text("经销商")').count() >= 1
    assert await page.locator('#chart-satisfaction svg text[data-value="1"]').count() >= 1
    await pages.shot(page, "statistics")


async def test_every_role_reaches_its_pages_and_the_repair_record_comes_through_the_console(
    suite, keys
) -> None:
    """Without a browser: each role's pages render (200), other roles' pages refuse (403), the regional
    manager answers local sourcing, and the printable repair record is fetched with the user's key."""
    case_id = await suite.hotline_case(
        phone=mobile_phone(),
        transcript="新风机开机后电机异响，风量明显变小",
        product={"model": "YD-XF250", "serial_no": "XF2502405001234"},
    )
    await suite.assigned(case_id, decided=True)
    res = await suite.api("warranty").post(
        f"/v1/cases/{case_id}/evidence",
        headers={"X-API-Key": keys["manager"]},
        json={
            "confirmation": {"via": "phone"},
            "part": "motor",
            "note": "确认电机",
            "documents": {
                "invoice_no": "44001234",
                "invoice_date": "2026-03-18",
                "purchase_date": "2026-03-18",
                "service_card_stamped": True,
            },
        },
    )
    assert res.status_code == 201, res.text
    assert res.json()["latest_decision"]["remedy"] in ("free_repair", "paid_repair"), res.json()[
        "latest_decision"
    ]

    async def opened():
        r = await suite.api("parts").get(
            "/v1/parts-requests", params={"case_id": case_id}, headers={"X-API-Key": keys["manager"]}
        )
        return r.json()["items"][0] if r.json()["items"] else None

    request = await eventually(opened, timeout_s=20)

    @asynccontextmanager
    async def as_role(role: str) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=suite.console, timeout=30) as client:
            r = await client.post("/signin", data={"api_key": keys[role]})
            assert r.status_code == 303, r.text
            yield client

    expected = {
        "front_desk": ["/hotline", "/cases", f"/cases/{case_id}"],
        "manager": [
            "/triage",
            "/cases?open=false",
            f"/cases/{case_id}",
            "/stats?period=month",
            "/stock",
            "/purchases",
            "/sourcing",
            f"/v1/parts-requests/{request['request_id']}/repair-record",
            "/quality",
        ],
        "specialist": ["/my", f"/cases/{case_id}", "/prices", "/stats?period=day", "/sourcing", "/quality"],
        "engineering": ["/projects", "/my", "/stats"],
        "management": ["/projects", "/stats", "/cases"],
        "finance": ["/prices", "/stock", f"/cases/{case_id}"],
        "purchasing": ["/purchases", "/stock"],
        "regional_manager": [
            "/cases",
            "/submit",
            "/sourcing",
            "/field-parts",
            f"/v1/parts-requests/{request['request_id']}/repair-record",
        ],
        "dealer": ["/cases", "/submit", "/field-parts"],
    }
    refused = {
        "dealer": ["/triage", "/stats", "/projects", "/sourcing", "/prices", "/quality"],
        "front_desk": ["/prices", "/triage"],
        "purchasing": ["/prices", "/triage", "/sourcing"],
        "regional_manager": ["/prices", "/stock"],
    }
    for role, paths in expected.items():
        async with as_role(role) as client:
            for path in paths:
                r = await client.get(path)
                assert r.status_code == 200, (role, path, r.status_code, r.text[:300])
                # prices: consumables for specialist and finance, project values for engineering and management
                assert "¥" not in r.text or role in ("specialist", "finance", "engineering", "management"), (
                    role,
                    path,
                )
            for path in refused.get(role, []):
                assert (await client.get(path)).status_code == 403, (role, path)

    async with as_role("regional_manager") as rm:
        page = await rm.get("/sourcing")
        assert request["request_id"] in page.text
        r = await rm.post(
            f"/sourcing/{request['request_id']}",
            data={"found": "yes", "source": "广州某家电维修部"},
            headers={"Origin": suite.console},
        )
        assert r.status_code == 303 and "yd_flash" in r.headers.get("set-cookie", "")
        record = await rm.get(f"/v1/parts-requests/{request['request_id']}/repair-record")
        assert "维修记录单" in record.text and "广州某家电维修部" in record.text
        # A form posted from another site is refused before it reaches a service.
        assert (
            await rm.post("/submit", data={}, headers={"Origin": "https://evil.example"})
        ).status_code == 403

    async with httpx.AsyncClient(base_url=suite.console) as anonymous:
        assert (await anonymous.get("/triage")).headers["location"].startswith("/signin?next=%2Ftriage")
        assert (await anonymous.get(f"/cases/{case_id}/live")).status_code == 303
        bad = await anonymous.post("/signin", data={"api_key": "dev-not-a-key-000000"})
        assert bad.status_code == 401 and "dev-not-a-key" not in bad.text
        assert (await anonymous.get("/readyz")).json()["checks"] == {"kafka": True, "live_feed": True}


# ---------------------------------------------------------------------------- closing the loop


async def test_the_manager_confirms_a_proposed_online_complaint_on_the_triage_board(
    suite, pages, keys
) -> None:
    """Online complaints wait for the manager (the suite's policy): the board shows the proposal to confirm."""
    res = await suite.api("intake").post(
        "/v1/complaints/online",
        json={
            "name": "赵女士",
            "phone": mobile_phone(),
            "description": "新风机APP升级后无法连接，显示离线",
            "address": "广东省深圳市南山区科技园",
        },
    )
    assert res.status_code == 202, res.text
    case_id = res.json()["case_id"]

    async def proposed() -> dict | None:
        case = await suite.case(case_id)
        return case if case.get("proposal") else None

    case = await eventually(proposed, timeout_s=30)
    assert case["status"] == "received" and case["assignee"] is None
    proposed_to = case["proposal"]["specialist_id"]

    page = await pages.signed_in("manager")
    card = page.locator(f'#col-proposed [data-case-id="{case_id}"]')
    await card.wait_for()
    assert (await card.locator(".proposed-to").text_content() or "").strip() == proposed_to
    assert (
        await page.locator(f'#col-watched [data-case-id="{case_id}"]').count() == 1
    )  # online: on the watch list
    await pages.shot(page, "triage-proposals")
    await submit(page, f'#col-proposed [data-case-id="{case_id}"] button.confirm')
    assert f"已确认分派给 {proposed_to}" in await flash(page)
    assert await page.locator(f'#col-proposed [data-case-id="{case_id}"]').count() == 0
    after = await suite.case(case_id)
    assert (after["status"], after["assignee"]) == ("assigned", proposed_to)
    assert (
        after["assignments"][-1]["by"] == "mgr-chen"
        and "confirmed the proposal" in after["assignments"][-1]["reason"]
    )


async def test_a_case_refused_closure_is_closed_by_the_manager_then_reopened_by_a_low_score(
    suite, pages, keys
) -> None:
    case_id = await suite.hotline_case(
        phone=mobile_phone(),
        transcript="新风机开机后电机异响，风量明显变小",
        product={"model": "YD-XF250", "serial_no": "XF2502405007777"},
    )
    await suite.with_liu(case_id, decided=True)
    res = await suite.api("dispatch").post(
        f"/v1/cases/{case_id}/replies",
        headers={"X-API-Key": keys["specialist"]},
        json={"message": "已安排上门检修", "via": "phone"},
    )
    assert res.status_code == 201, res.text

    # The specialist may not close it while the warranty still needs evidence: the page says what is open.
    specialist = await pages.signed_in("specialist")
    await specialist.goto(f"{suite.console}/cases/{case_id}")
    await specialist.click("#act-close summary")
    assert await specialist.locator('#open-items li[data-item^="warranty"]').count() == 1
    await specialist.fill("#resolution", "上门检查后电机运行正常")
    await specialist.select_option("#outcome", "no_fault_found")
    await submit(specialist, "#close-form button[type=submit]")
    assert "409" in await flash(specialist)
    assert "保修判定" in " ".join(await specialist.locator("#flash .missing-list li").all_text_contents())

    # The manager closes it anyway, with a reason that stays on the case.
    manager = await pages.signed_in("manager")
    await manager.goto(f"{suite.console}/cases/{case_id}")
    await manager.click("#act-close summary")
    await manager.fill("#resolution", "上门检查后电机运行正常")
    await manager.select_option("#outcome", "no_fault_found")
    await manager.fill("#override_reason", "客户确认无需保修处理")
    await submit(manager, "#close-form button[type=submit]")
    assert "已结案" in await flash(manager)
    assert "客户确认无需保修处理" in (await manager.text_content("#closure-override") or "")

    # The follow-up visit: satisfaction 2 reopens the case, its history kept.
    await specialist.goto(f"{suite.console}/cases/{case_id}")
    await specialist.select_option("#satisfaction", "2")
    await specialist.fill("#notes", "电机仍有异响")
    await submit(specialist, "#follow-up-form button[type=submit]")
    assert await specialist.get_attribute("#case-status", "data-status") == "reopened"
    history = await specialist.text_content("#reopenings") or ""
    assert "回访不满意" in history and "上门检查后电机运行正常" in history
    assert await specialist.is_visible("#reply-form")  # worked again
    await pages.shot(specialist, "case-reopened")
    case = await suite.case(case_id)
    assert case["status"] == "reopened" and case["reopenings"][0]["satisfaction"] == 2


async def test_the_quality_figures_page_draws_and_exports(suite, pages, keys) -> None:
    serial = f"XF2502405{random.randrange(10**6):06d}"
    ids = [
        await suite.hotline_case(
            phone=mobile_phone(),
            transcript="新风机电机异响",
            product={"model": "YD-XF250", "serial_no": serial},
        )
        for _ in range(2)
    ]
    for case_id in ids:
        await suite.assigned(case_id)

    page = await pages.signed_in("manager")
    await page.goto(f"{suite.console}/quality?by=batch")
    assert await page.locator("svg.chart").count() >= 8
    assert int(await page.text_content("#kpi-faults") or 0) >= 2
    assert await page.locator(f'#repeat-units tr[data-serial="{serial}"]').count() == 1  # failing again
    assert (
        int(await page.locator('#quality-table tr[data-key="XF250-2405"] .faults').text_content() or 0) >= 2
    )
    await pages.shot(page, "quality-figures")

    async with page.expect_download() as csv_download:
        await page.click("#export-csv")
    text = await asyncio.to_thread(
        Path(await (await csv_download.value).path()).read_text, encoding="utf-8-sig"
    )
    assert all(case_id in text for case_id in ids) and text.startswith("案件 case")
    async with page.expect_download() as xlsx_download:
        await page.click("#export-xlsx")
    from openpyxl import load_workbook

    data = await asyncio.to_thread(Path(await (await xlsx_download.value).path()).read_bytes)
    book = load_workbook(io.BytesIO(data))
    assert "按生产批次" in book.sheetnames and "重复故障 Repeat units" in book.sheetnames
    month = page.locator(".report-link").first
    pdf = await page.request.get(f"{suite.console}{await month.get_attribute('href')}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")
