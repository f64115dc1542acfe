"""Every region has a regional manager in the reference data, or the gap shows on the operations page (R-PA-5)."""

from __future__ import annotations

import pytest

from operations.config import OperationsSettings
from operations.entrypoints.http import create_app as ops_app
from shared.reference import Region, regional_manager_gaps, regions
from shared.testing.fixtures import running
from shared.testing.identities import key_headers

pytestmark = pytest.mark.integration

OPS = key_headers()["operations"]


def test_a_region_without_a_manager_is_a_gap() -> None:
    assert regional_manager_gaps() == []  # the reference data covers every region
    assert all(r.regional_manager for r in regions())
    known = (*regions(), Region("far_west", "远西", "Far West", ("某省",), None))
    assert [r.code for r in regional_manager_gaps(known)] == ["far_west"]


async def test_the_operations_page_shows_the_coverage(isolation) -> None:
    async with running(ops_app(isolation.settings(OperationsSettings))) as ops:
        res = await ops.get("/v1/regional-managers", headers=OPS)
        assert res.status_code == 200
        body = res.json()
        assert body["gaps"] == [] and len(body["items"]) == len(regions())
        assert {i["code"]: i["regional_manager"] for i in body["items"]}["south_china"] == "RM-SOUTH-01"
        page = await ops.get("/", headers=OPS)
        assert 'id="regional-managers"' in page.text and "every region has a regional manager" in page.text
