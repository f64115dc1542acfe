"""The public complaint page in headless Chromium on a phone-sized screen (R-IN-2)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from intake.config import IntakeSettings
from intake.entrypoints.http import create_app
from shared.contracts.complaints import ComplaintReceived
from shared.testing.browser import PHONE
from shared.testing.fixtures import serving, started
from shared.testing.kafka import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
async def page_url(isolation):
    app = create_app(isolation.settings(IntakeSettings))
    async with started(app), serving(app) as url:
        yield url


async def test_customer_submits_from_a_qr_link_and_gets_a_case_number(page_url, browser, isolation, tmp_path):
    context = await browser.new_context(**PHONE, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{page_url}/?serial_no=xf2502405001234")
    assert await page.input_value("#serial_no") == "XF2502405001234"
    assert "在线投诉" in await page.title()

    await page.fill("#name", "王女士")
    await page.fill("#phone", "138 1234 5678")
    await page.fill("#description", "开机后电机有异响")
    await page.click("#submit")
    await page.wait_for_selector("#done:not([hidden])", timeout=15000)
    case_id = (await page.text_content("#case-id") or "").strip()
    assert case_id.startswith("YD-")
    await page.screenshot(path=str(tmp_path / "complaint-submitted.png"), full_page=True)

    # A double tap after success cannot send it twice: the form is gone; and the one event is in Kafka.
    assert await page.is_hidden("#complaint-form")
    records = await read_topic(
        isolation.backends.kafka_bootstrap_servers,
        isolation.topic("intake.complaints.v1"),
        until=lambda r: len(r) >= 1,
        settle_s=1.0,
    )
    [record] = records
    c = ComplaintReceived.model_validate(record.envelope().payload)
    assert (c.case_id, c.channel, c.product.serial_no, c.product.model) == (
        case_id,
        "online",
        "XF2502405001234",
        "YD-XF250",
    )
    await context.close()


async def test_errors_show_beside_their_field_and_english_toggle_works(page_url, browser):
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await page.goto(page_url)
    await page.click("#lang-toggle")
    assert await page.text_content("#submit") == "Submit"
    assert await page.get_attribute("html", "lang") == "en"

    await page.click("#submit")  # nothing filled in: required fields flagged without a request
    assert await page.text_content('.field-error[data-for="name"]') == "Required"

    await page.fill("#name", "Li")
    await page.fill("#phone", "12345")
    await page.fill("#description", "filter needs replacing")
    await page.click("#submit")
    # intake's answer arrives asynchronously: wait on what the page shows (no script evaluated)
    await expect(page.locator('.field-error[data-for="phone"]')).to_contain_text(
        "Chinese mobile", timeout=15000
    )
    assert await page.get_attribute("#phone", "aria-invalid") == "true"
    await context.close()
