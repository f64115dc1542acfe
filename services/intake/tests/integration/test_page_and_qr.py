"""The public page, product QR codes, health, readiness and metrics (R-IN-2, R-SU)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_page_is_chinese_first_and_prefills_the_serial(intake) -> None:
    res = await intake.get("/", params={"serial_no": "xf250 2405 001234"})
    assert res.status_code == 200
    assert 'lang="zh-CN"' in res.text
    assert "售后投诉" in res.text and "400-832-0089" in res.text
    assert 'value="XF2502405001234"' in res.text
    assert 'name="viewport"' in res.text
    # The QR page leads to the warranty activation (the console's public page) with the serial.
    assert 'href="http://127.0.0.1:8006/activation?serial_no=XF2502405001234"' in res.text


async def test_page_escapes_what_it_echoes(intake) -> None:
    res = await intake.get("/", params={"serial_no": '"><script>alert(1)</script>'})
    assert res.status_code == 200
    assert "<script>alert(1)</script>" not in res.text


async def test_qr_png_points_at_the_prefilled_page(intake) -> None:
    res = await intake.get("/v1/qr/xf2502405001234")
    assert res.status_code == 200
    assert res.headers["content-type"] == "image/png"
    assert res.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert res.headers["X-QR-Target"] == "http://127.0.0.1:8001/?serial_no=XF2502405001234"


async def test_qr_svg_by_query_or_accept(intake) -> None:
    by_query = await intake.get("/v1/qr/XF2502405001234", params={"format": "svg"})
    by_accept = await intake.get("/v1/qr/XF2502405001234", headers={"Accept": "image/svg+xml"})
    for res in (by_query, by_accept):
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("image/svg+xml")
        assert b"<svg" in res.content


async def test_qr_of_a_malformed_serial_is_422(intake) -> None:
    res = await intake.get("/v1/qr/%21%21")
    assert res.status_code == 422
    assert "serial_no" in res.json()["detail"]


async def test_health_readiness_and_metrics(intake, keys, hotline_body) -> None:
    assert (await intake.get("/healthz")).json()["status"] == "ok"
    ready = await intake.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": True, "store": True}
    await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"])
    metrics = (await intake.get("/metrics")).text
    assert 'yingde_events_produced_total{event_type="complaint.received",service="intake"}' in metrics
    assert 'route="/v1/complaints/hotline"' in metrics


async def test_openapi_documents_every_channel(intake) -> None:
    paths = (await intake.get("/openapi.json")).json()["paths"]
    for channel in ("hotline", "regional-manager", "dealer", "online"):
        assert f"/v1/complaints/{channel}" in paths
