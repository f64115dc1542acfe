"""Engineering (and warranty, to see acceptance land) running in process on the real broker and store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from engineering.config import EngineeringSettings
from engineering.entrypoints.http import create_app as engineering_app
from shared.contracts.cases import CaseAssigned
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.registry import load_registry
from shared.periods import china_today
from shared.testing.fixtures import Bus, Isolation, running
from shared.testing.identities import key_headers
from shared.testing.kafka import Record
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

KEYS = key_headers()  # deploy/local/dev-credentials.json, by role
ASSIGNED = load_registry().get("dispatch.cases.v1").events[0].examples[0]["payload"]


def today() -> date:
    return china_today()


def ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


@pytest.fixture
def keys() -> dict[str, dict[str, str]]:
    return KEYS


@pytest.fixture
async def engineering(isolation: Isolation) -> AsyncIterator[httpx.AsyncClient]:
    settings = isolation.settings(EngineeringSettings, outbox_relay_interval_s=0.5)
    async with running(engineering_app(settings)) as client:
        yield client


@pytest.fixture
async def warranty(isolation: Isolation) -> AsyncIterator[httpx.AsyncClient]:
    async with running(warranty_app(isolation.settings(WarrantySettings))) as client:
        yield client


class EngineeringBus(Bus):
    """Publish as another service would, and read back what was published."""

    async def assigned(self, case_id: str, **changes: Any) -> Envelope:
        """case.assigned as dispatch publishes it; an installation complaint unless told otherwise."""
        product = ASSIGNED["product"] | changes.pop("product", {})
        # Received now: the example's date would precede any acceptance a test records today.
        payload = CaseAssigned.model_validate(
            ASSIGNED
            | {
                "case_id": case_id,
                "department": "engineering_installation",
                "category": "installation",
                "specialist_id": "eng-wu",
                "description": "风管接口漏水",
                "product": product,
                "received_at": datetime.now(UTC).isoformat(),
                "reported_at": datetime.now(UTC).isoformat(),
            }
            | changes
        )
        env = make_envelope(
            payload, event_type="case.assigned", schema_version=1, correlation_id=case_id, producer="dispatch"
        )
        await self.publish("dispatch", env)
        return env

    async def keyed(
        self, topic: str, key: str, until: Callable[[list[Record]], bool], settle_s: float = 0.3
    ) -> list[Record]:
        """The records of one key on a topic."""
        records = await self.read(topic, lambda rs: until([r for r in rs if r.key == key.encode()]), settle_s)
        return [r for r in records if r.key == key.encode()]


@pytest.fixture
async def bus(isolation: Isolation) -> AsyncIterator[EngineeringBus]:
    b = EngineeringBus(isolation)
    yield b
    await b.close()


QUOTE = {
    "contracting_mode": "labour_and_auxiliary_materials",
    "items": [
        {"item": "新风机组吊装", "unit": "台", "quantity": 2, "unit_price": "880.00"},
        {"item": "镀锌风管安装", "unit": "米", "quantity": "120.5", "unit_price": "65.40"},
    ],
    "scope": "新风机组、风管及风口安装调试",
    "drawings_signed_off": True,
    "requirements": "按图施工，文明施工",
    "payment_terms": "预付 30%，验收后付至 95%，质保金 5%",
    "maintenance_terms": "验收后一年免费维修",
}


class Drive:
    """Takes a project through its life over HTTP, checking every answer on the way."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(
        self, method: str, url: str, body: Any = None, *, role: str = "engineering", expect: int | None = None
    ) -> Any:
        res = await self.client.request(method, url, json=body, headers=KEYS[role])
        if expect is not None:
            assert res.status_code == expect, f"{method} {url}: {res.status_code} {res.text}"
        elif res.status_code >= 300:
            raise AssertionError(f"{method} {url}: {res.status_code} {res.text}")
        return res.json()

    async def open(
        self,
        project_id: str | None = None,
        serials: tuple[str, ...] = ("XF1K2501000007", "XF1K2501000008"),
        **changes: Any,
    ) -> str:
        body = (
            {
                "client": "深圳市南山区某实验学校",
                "site": "深圳市南山区学府路 88 号",
                "supervisor": "深圳某工程监理有限公司",
                "design_unit": "某建筑设计院",
                "units": [{"serial_no": s, "model": "YD-XF1000"} for s in serials],
                "contract_value": "1286000.00",
                "bid_won_on": ago(120),
            }
            | ({"project_id": project_id} if project_id else {})
            | changes
        )
        return (await self.call("POST", "/v1/projects", body, expect=201))["project_id"]

    async def quote(self, pid: str, installer: str, unit_price: str = "880.00", expect: int = 201) -> Any:
        body = QUOTE | {
            "installer": installer,
            "schedule": {"starts_on": ago(80), "finishes_on": ago(40)},
            "items": [QUOTE["items"][0] | {"unit_price": unit_price}, QUOTE["items"][1]],
            "quoted_on": ago(110),
        }
        return await self.call("POST", f"/v1/projects/{pid}/quotes", body, expect=expect)

    async def to_contract(self, pid: str) -> None:
        for installer, price in (
            ("广州甲安装工程有限公司", "900.00"),
            ("佛山乙机电安装公司", "860.00"),
            ("深圳丙净化工程公司", "920.00"),
        ):
            await self.quote(pid, installer, price)
        await self.call("POST", f"/v1/projects/{pid}/submission")
        await self.call(
            "POST",
            f"/v1/projects/{pid}/decision",
            {"quote_id": "Q-2", "reason": "报价最低，工期合理"},
            role="management",
        )
        await self.call(
            "POST", f"/v1/projects/{pid}/contract", {"contract_no": "HT-2026-031", "signed_on": ago(90)}
        )

    async def prepare(self, pid: str) -> None:
        await self.call("PUT", f"/v1/projects/{pid}/site-lead", {"name": "陈工", "phone": "138 0000 0001"})
        await self.call(
            "POST",
            f"/v1/projects/{pid}/surveys",
            {
                "surveyed_on": ago(88),
                "participants": ["陈工", "施工队长 黄师傅"],
                "findings": "三楼吊顶内有消防管道",
                "obstacle_plan": "风管绕行，增加两处弯头",
            },
        )
        await self.call("PUT", f"/v1/projects/{pid}/contacts/client", {"name": "李主任", "title": "后勤处"})
        await self.call(
            "PUT", f"/v1/projects/{pid}/contacts/supervisor", {"name": "王总监", "phone": "0755-87654321"}
        )
        for item in ("equipment_certificates", "material_certificates", "crew_ids", "commencement_report"):
            await self.call(
                "PUT",
                f"/v1/projects/{pid}/paperwork/{item}",
                {"document": f"{item}.pdf", "submitted_on": ago(85)},
            )

    async def works(self, pid: str) -> None:
        await self.call("POST", f"/v1/projects/{pid}/works-start", {"started_on": ago(80)})
        await self.call(
            "POST",
            f"/v1/projects/{pid}/progress",
            {"on": ago(60), "percent_complete": 50, "work_done": "风管安装过半"},
        )

    async def preconditions(self, pid: str) -> None:
        for c in ("scope_complete", "self_inspection", "rectifications_closed", "archives_complete"):
            await self.call(
                "PUT", f"/v1/projects/{pid}/preconditions/{c}", {"met_on": ago(10), "document": f"{c}.pdf"}
            )

    async def accept(self, pid: str) -> dict[str, Any]:
        for step, days in (("self_check", 8), ("application", 6), ("supervisor_signed", 3)):
            await self.call(
                "POST",
                f"/v1/projects/{pid}/acceptance/{step}",
                {"done_on": ago(days), "document": f"{step}.pdf"},
            )
        return await self.call(
            "POST",
            f"/v1/projects/{pid}/acceptance/client_signed",
            {
                "document": "竣工验收单 YS-031",
                "design_unit_document": "设计院签章 SJ-07",
                "performed_by": "李主任",
            },
        )

    async def to_accepted(self, pid: str) -> dict[str, Any]:
        await self.to_contract(pid)
        await self.prepare(pid)
        await self.works(pid)
        await self.preconditions(pid)
        return await self.accept(pid)


@pytest.fixture
def drive(engineering: httpx.AsyncClient) -> Drive:
    return Drive(engineering)


@pytest.fixture
def drive_for() -> Callable[[httpx.AsyncClient], Drive]:
    """A Drive over another engineering app than the default fixture's (other settings)."""
    return Drive
