"""Wires parts onto the shared runtime: repository, reference data, handlers, background jobs."""

from __future__ import annotations

import asyncio
from functools import partial

import yaml

from parts.adapters.repository import PartsRepository, PurchaseRequest, Quote, request_query_fields
from parts.config import PartsSettings
from parts.domain.repair_record import RepairRecord
from parts.domain.request import LegHours, PartsRequest
from parts.handlers import (
    Parts,
    on_case_assigned,
    on_case_reassigned,
    on_remedy_chosen,
    on_remedy_ended,
    on_warranty_decided,
    scan_deadlines,
)
from shared.logging import get_logger
from shared.reference import regions
from shared.service import ServiceRuntime

log = get_logger(__name__)


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, PartsSettings)
    reference = yaml.safe_load(settings.reference_file.read_text(encoding="utf-8"))
    parts = Parts(
        repo=PartsRepository(
            runtime.db,
            runtime.store,
            requests=runtime.aggregates(
                "requests",
                PartsRequest,
                id_field="request_id",
                kind="parts request",
                correlation=lambda r: r.case_id,
                query_fields=request_query_fields,
            ),
            quotes=runtime.aggregates(
                "quotes", Quote, id_field="quote_id", kind="quote", correlation=lambda q: q.case_id
            ),
            purchases=runtime.aggregates(
                "purchase_requests",
                PurchaseRequest,
                id_field="request_id",
                kind="purchase request",
                correlation=lambda p: p.case_id or p.request_id,
            ),
            records=runtime.aggregates(
                "repair_records",
                RepairRecord,
                id_field="record_id",
                kind="repair record",
                correlation=lambda r: r.case_id,
            ),
        ),
        # Every region's manager, from the reference data every service shares (gaps show on the ops page).
        regional_managers={r.code: r.regional_manager for r in regions() if r.regional_manager},
        suppliers=reference["suppliers"],
        local_sourcing_hours=settings.local_sourcing_hours,
        leg_hours=LegHours(
            rma=settings.rma_hours,
            defective_at_company=settings.defective_to_company_hours,
            defective_at_supplier=settings.defective_to_supplier_hours,
            good_part_in_field=settings.good_part_to_field_hours,
        ),
        quote_valid_days=settings.quote_valid_days,
        restock_days=settings.restock_days,
        unknown_case_grace_s=settings.unknown_case_grace_s,
        pdf_font=settings.pdf_font,
    )
    runtime.components["parts"] = parts
    if not settings.pdf_font.is_file():
        log.warning(
            "no Chinese font for the repair record PDF; the PDF endpoint answers 503",
            font=str(settings.pdf_font),
        )
    try:
        await parts.repo.ensure_indexes()
    except Exception as exc:
        log.warning("store not ready at start-up; indexes skipped", error=repr(exc))
    runtime.consumer.handle("case.assigned", partial(on_case_assigned, parts=parts))
    runtime.consumer.handle("case.reassigned", partial(on_case_reassigned, parts=parts))
    runtime.consumer.handle("warranty.decided", partial(on_warranty_decided, parts=parts))
    runtime.consumer.handle("remedy.chosen", partial(on_remedy_chosen, parts=parts))
    runtime.consumer.handle("remedy.completed", partial(on_remedy_ended, parts=parts))
    runtime.consumer.handle("remedy.cancelled", partial(on_remedy_ended, parts=parts))

    async def deadlines() -> None:
        while True:
            await scan_deadlines(parts)
            await asyncio.sleep(settings.scan_interval_s)

    runtime.background("parts-deadlines", deadlines)
