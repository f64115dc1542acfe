"""The repair record renders in headless Chromium, Chinese and printable (R-PA-2)."""

from __future__ import annotations

import pytest

from parts.entrypoints.http import create_app
from shared.testing.fixtures import eventually, serving, started
from shared.testing.identities import new_case_id

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_repair_record_page_in_chromium(parts_settings, scenario, keys, browser, tmp_path) -> None:
    app = create_app(parts_settings())
    async with started(app), serving(app) as url:
        case_id = new_case_id()
        await scenario.assigned(case_id)
        await scenario.decided(case_id)
        import httpx

        async with httpx.AsyncClient(base_url=url, headers=keys["specialist"]) as client:

            async def opened():
                items = (await client.get("/v1/parts-requests", params={"case_id": case_id})).json()["items"]
                return items[0] if items else None

            req = await eventually(opened)
            await client.post(
                f"/v1/parts-requests/{req['request_id']}/local-sourcing",
                json={"found": True, "source": "广州某家电维修部"},
            )
            await client.post(
                f"/v1/parts-requests/{req['request_id']}/repair",
                json={
                    "technician": "李师傅",
                    "repaired_on": "2026-11-25",
                    "fault_found": "电机异响",
                    "cause": "轴承磨损",
                },
            )

        context = await browser.new_context(extra_http_headers=keys["specialist"], locale="zh-CN")
        page = await context.new_page()
        await page.goto(f"{url}/v1/parts-requests/{req['request_id']}/repair-record")
        assert await page.text_content("h1") == "产品(设备)售后服务维修记录单"
        rows = await page.locator("tr").count()
        assert rows >= 15
        assert "广州某家电维修部" in await page.text_content("table")
        await page.emulate_media(media="print")
        assert await page.is_hidden(".actions")  # the print button is not printed
        await page.screenshot(path=str(tmp_path / "repair-record.png"), full_page=True)
        await context.close()
