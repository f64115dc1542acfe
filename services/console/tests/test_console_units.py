"""The console's own small pieces, without a browser or a backend: the sign-in cookie, the charts,
the price-list lines, the statistics periods, and the live feed's fan-out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest

from console.adapters.live_feed import LiveFeed
from console.charts import Bar, Series, hbars, stacked_columns
from console.config import DEV_SESSION_SECRET, ConsoleSettings
from console.entrypoints.http import _safe_next
from console.entrypoints.office import parse_price_lines
from console.entrypoints.stats import recent_periods
from console.session import sign, unsign
from shared.contracts.envelope import Envelope, encode
from shared.testing.identities import api_key


def test_the_cookie_holds_the_key_only_while_signed_and_fresh() -> None:
    value = sign(api_key("manager"), "s" * 40, now=1_000_000)
    assert unsign(value, "s" * 40, max_age_s=3600, now=1_000_100) == api_key("manager")
    assert unsign(value, "t" * 40, max_age_s=3600, now=1_000_100) is None  # another secret
    assert unsign(value, "s" * 40, max_age_s=3600, now=1_004_000) is None  # expired
    encoded, issued, mac = value.split(".")
    assert unsign(f"{encoded}.{int(issued) + 1}.{mac}", "s" * 40, max_age_s=3600, now=1_000_100) is None
    assert unsign("garbage", "s" * 40, max_age_s=3600) is None


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValueError, match="CONSOLE_SESSION_SECRET"):
        ConsoleSettings(app_env="production", session_secret=DEV_SESSION_SECRET)
    ok = ConsoleSettings(app_env="production", session_secret="x" * 48)
    assert ok.secure_cookies and not ConsoleSettings().secure_cookies
    assert ConsoleSettings().http_port == 8006


def test_only_local_paths_follow_a_sign_in() -> None:
    assert _safe_next("/cases/YD-0123456789") == "/cases/YD-0123456789"
    for bad in ("https://evil.example/", "//evil.example", "/\\evil", "cases", None, ""):
        assert _safe_next(bad) is None


def test_price_lines_are_parsed_or_named_by_line() -> None:
    items, errors = parse_price_lines("A-1 | 滤芯 | 1.00 | 2.00\n\nB-2, 网, 3, 4\nbroken line")
    assert items == {
        "A-1": {"name": "滤芯", "cost": "1.00", "list_price": "2.00"},
        "B-2": {"name": "网", "cost": "3", "list_price": "4"},
    }
    assert len(errors) == 1 and "第 4 行" in errors[0]


def test_periods_are_named_as_dispatch_names_them() -> None:
    weeks = recent_periods("week", 3, date(2026, 11, 26))
    assert [w[0] for w in weeks] == ["2026-W46", "2026-W47", "2026-W48"]
    assert weeks[-1][1:] == (date(2026, 11, 23), date(2026, 11, 29))
    months = recent_periods("month", 3, date(2026, 1, 15))
    assert [(m[0], m[2]) for m in months] == [
        ("2025-11", date(2025, 11, 30)),
        ("2025-12", date(2025, 12, 31)),
        ("2026-01", date(2026, 1, 31)),
    ]
    assert recent_periods("day", 2, date(2026, 3, 1))[0][0] == "2026-02-28"


def test_charts_are_svg_with_their_numbers_as_text() -> None:
    svg = str(
        hbars(
            [Bar("400 热线", "hotline", (1.5, 4.0)), Bar("经销商", "dealer", (None, 2.0))],
            title="t<x>",
            unit="h",
            legend=[("中位数", "median"), ("P90", "p90")],
        )
    )
    assert svg.startswith("<svg") and "t&lt;x&gt;" in svg and ">1.5h<" in svg and ">—<" in svg
    assert 'class="zh"' in svg and 'class="en"' in svg
    columns = str(
        stacked_columns(
            ["W1", "W2"], [Series("热线", "hotline", (1, 2)), Series("经销商", "dealer", (0, 3))], title="c"
        )
    )
    assert columns.count("<rect") == 2 + 3  # two legend keys, three non-empty segments
    assert "暂无数据" in str(stacked_columns(["W1"], [Series("a", "a", (0,))], title="c"))


async def test_the_live_feed_hands_each_event_to_the_browsers_watching_its_case() -> None:
    feed = LiveFeed(ConsoleSettings(topic_prefix="unit."))
    mine, other = feed.watch("YD-AAAAAAAAAA"), feed.watch("YD-BBBBBBBBBB")
    env = Envelope(
        event_id=uuid.uuid4(),
        event_type="warranty.decided",
        schema_version=1,
        occurred_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        correlation_id="YD-AAAAAAAAAA",
        producer="warranty",
        payload={"decision": "covered", "remedy": "free_repair", "total": "999"},
    )
    event = feed.on_message("unit.warranty.decisions.v1", b"YD-AAAAAAAAAA", encode(env))
    assert event is not None and mine.qsize() == 1 and other.qsize() == 0
    sent = (await asyncio.wait_for(mine.get(), 1)).as_dict()
    assert sent["zh"] == "保修判定：保修范围内，免费维修" and sent["at"] == "2026-11-26 16:00"
    # Only the named harmless fields travel (the amount in none of them; the random event id may hold "999").
    assert "total" not in sent and "999" not in [str(v) for v in sent.values()]
    assert feed.on_message("unit.warranty.decisions.v1", None, b"not json") is None
    feed.unwatch("YD-AAAAAAAAAA", mine)
    feed.close_all()
    assert feed.watching == 1 and await other.get() is None


async def test_a_call_to_a_service_carries_the_pages_request_id() -> None:
    import uuid

    import httpx

    from console.adapters.services import ServiceClient
    from shared import requestid

    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("X-Request-ID"))
        return httpx.Response(200, json={})

    client = ServiceClient("dispatch", "http://dispatch", timeout_s=5, transport=httpx.MockTransport(answer))
    given = uuid.uuid4()
    token = requestid.serving(given)
    try:
        await client.call("GET", "/v1/cases", key="k")
    finally:
        requestid.done(token)
    await client.call("GET", "/v1/cases", key="k")
    await client.close()
    assert seen == [str(given), None]
