"""The quality department's figures on the real stack: GET endpoints, CSV and XLSX exports, and the
monthly PDF report on demand and on the first day of the month (R-DS-7)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from dispatch.entrypoints.http import create_app as dispatch_app
from dispatch.handlers import scheduled_report
from shared.periods import CHINA, add_months, china_date
from shared.testing.fixtures import eventually, running
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

FAULTS = [  # serial, dealer, region, decision reason, key part
    ("XF2502405000001", "D-GZ-001", "south_china", "within_product_warranty", "motor"),
    ("XF2502405000001", "D-GZ-001", "south_china", "within_product_warranty", "motor"),  # fails again
    ("XF2502405000002", "D-GZ-001", "south_china", "voltage_damage", "control_board"),
    ("XF3502311000042", "D-SH-002", "east_china", "human_damage", None),
]


async def test_figures_exports_and_the_monthly_report(dispatch_settings, events, keys) -> None:
    app = dispatch_app(dispatch_settings())
    async with running(app) as client:
        ids = []
        for serial, dealer, region, reason, part in FAULTS:
            case_id = new_case_id()
            ids.append(case_id)
            await events.complaint(
                case_id, dealer_code=dealer, region=region, product={"model": None, "serial_no": serial}
            )
            await events.other(
                "warranty",
                "warranty.decided",
                case_id,
                {
                    "case_id": case_id,
                    "decision": "covered" if reason.startswith("within") else "chargeable",
                    "remedy": "free_repair",
                    "key_part": part,
                    "rule_set": "2026-11-01",
                    "reasons": [{"code": reason, "message_zh": "z", "message_en": "e"}],
                    "decided_at": datetime.now(UTC).isoformat(),
                },
            )
        consumable = new_case_id()  # a sale, not a fault
        await events.complaint(
            consumable, category_guess={"category": "consumable", "confidence": 0.9, "evidence": []}
        )
        # The first case went to path B and was repaired after three days.
        opened = datetime.now(UTC)
        await events.other(
            "parts",
            "parts.request_opened",
            ids[0],
            {
                "case_id": ids[0],
                "request_id": "PR-Q1",
                "part": "motor",
                "sourcing_by": "RM-SOUTH-01",
                "deadline": opened.isoformat(),
                "chargeable": False,
            },
            at=opened,
        )
        await events.other(
            "parts",
            "parts.rma_opened",
            ids[0],
            {
                "case_id": ids[0],
                "request_id": "PR-Q1",
                "reason": "not_found_locally",
                "supplier": "S",
                "by": "sp-liu",
            },
        )
        repaired_on = china_date(opened + timedelta(days=3))
        await events.other(
            "parts",
            "parts.repaired",
            ids[0],
            {
                "case_id": ids[0],
                "request_id": "PR-Q1",
                "path": "B",
                "technician": "李师傅",
                "repaired_on": repaired_on.isoformat(),
            },
        )

        async def ready():
            # Every fault with its decision (no cause "none": a decision can arrive after its case, and waits
            # for it on a topic of its own) and the repair through path B in.
            res = await client.get("/v1/quality/figures", params={"by": "cause"}, headers=keys["manager"])
            body = res.json()
            return (
                body["overall"]["faults"] == 4
                and body["overall"]["paths"]["B"]["repaired"] == 1
                and "none" not in {g["key"] for g in body["groups"]}
            )

        await eventually(ready, timeout_s=30)
        by_batch = (
            await client.get("/v1/quality/figures", params={"by": "batch"}, headers=keys["manager"])
        ).json()
        assert {g["key"]: g["faults"] for g in by_batch["groups"]} == {"XF250-2405": 3, "XF350-2311": 1}
        assert by_batch["repeat_units"] == 1 and by_batch["overall"]["paths"]["B"]["mean_days"] == 3.0
        assert by_batch["overall"]["mean_days_in_repair"] == 3.0
        for by, expected in (
            ("model", {"YD-XF250": 3, "YD-XF350": 1}),
            ("part", {"motor": 2, "control_board": 1, "none": 1}),
            ("exclusion", {"none": 2, "voltage_damage": 1, "human_damage": 1}),
            ("dealer", {"D-GZ-001": 3, "D-SH-002": 1}),
            ("region", {"south_china": 3, "east_china": 1}),
        ):
            res = (await client.get("/v1/quality/figures", params={"by": by}, headers=keys["manager"])).json()
            assert {g["key"]: g["faults"] for g in res["groups"]} == expected, by
        [unit] = (await client.get("/v1/quality/repeat-units", headers=keys["manager"])).json()["items"]
        assert unit["serial_no"] == "XF2502405000001" and unit["cases"] == ids[:2]
        assert (await client.get("/v1/quality/figures", headers=keys["dealer"])).status_code == 403
        assert (
            await client.get(
                "/v1/quality/figures",
                params={"from": "2026-12-02", "to": "2026-12-01"},
                headers=keys["manager"],
            )
        ).status_code == 422

        exported = await client.get("/v1/quality/export.csv", headers=keys["manager"])
        assert exported.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert lines[0][0] == "案件 case" and sorted(line[0] for line in lines[1:]) == sorted(ids)

        xlsx = await client.get("/v1/quality/export.xlsx", headers=keys["manager"])
        book = load_workbook(io.BytesIO(xlsx.content))
        assert {"概览 Summary", "按型号", "按生产批次", "重复故障 Repeat units", "明细 Cases"} <= set(
            book.sheetnames
        )
        batch_sheet = [list(r) for r in book["按生产批次"].iter_rows(values_only=True)]
        assert batch_sheet[1][:2] == ["XF250-2405", 3]
        assert [r[0] for r in book["重复故障 Repeat units"].iter_rows(min_row=2, values_only=True)] == [
            "XF2502405000001"
        ]

        month = china_date(datetime.now(UTC)).strftime("%Y-%m")
        pdf = await client.get(f"/v1/quality/reports/{month}.pdf", headers=keys["manager"])
        assert pdf.headers["content-type"] == "application/pdf"
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        for expected in (
            f"品质部月度报告 {month}",
            "按型号的故障数",
            "YD-XF250",
            "XF250-2405",
            "XF2502405000001",
        ):
            assert expected in text, expected
        future = add_months(china_date(datetime.now(UTC)).replace(day=1), 2).strftime("%Y-%m")
        assert (
            await client.get(f"/v1/quality/reports/{future}.pdf", headers=keys["manager"])
        ).status_code == 422

        # On the first day of the next month, the month just ended gets its report, once.
        d = app.state.runtime.components["dispatch"]
        first = datetime.combine(
            add_months(china_date(datetime.now(UTC)).replace(day=1), 1), datetime.min.time(), tzinfo=CHINA
        ) + timedelta(hours=1)
        d.clock = lambda: first
        assert await scheduled_report(d) == month
        assert await scheduled_report(d) is None  # kept: not generated again
        kept = {
            r["month"]: r
            for r in (await client.get("/v1/quality/reports", headers=keys["manager"])).json()["items"]
        }
        assert (kept[month]["by"], kept[month]["faults"]) == ("scheduled", 4)
        again = await client.get(f"/v1/quality/reports/{month}.pdf", headers=keys["manager"])
        assert again.content == (await d.reports.stored(month))["pdf"]
