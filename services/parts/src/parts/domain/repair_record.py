"""The repair record 《产品(设备)售后服务维修记录单》 (R-PA-2, 附件 1): one for every repair, with or without
a key part. Every field the form needs is on it; its rows are laid out in adapters/repair_record.py."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from shared.contracts.parts import RepairRecorded


class PartUsed(BaseModel):
    part: str = Field(description="motor, control_board, fan, sensor, ...")
    old_serial: str | None = None
    new_serial: str | None = None
    quantity: int = Field(default=1, ge=1)


class Signature(BaseModel):
    name: str
    signed_on: date


class RepairRecord(BaseModel):
    record_id: str
    case_id: str
    request_id: str | None = None
    serial_no: str | None = None
    model: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = Field(default=None, description="E.164: printed on staff copies only.")
    customer_address: str | None = None
    dealer_code: str | None = None
    reported_on: date | None = None
    repaired_on: date
    technician: str
    fault_found: str
    cause: str
    parts: list[PartUsed] = Field(default_factory=list)
    labour: str = Field(default="", description="The work done.")
    labour_hours: Decimal = Field(default=Decimal(0), ge=0)
    earlier_repairs: int = Field(
        default=0, ge=0, description="Repairs of the unit within its period before this one."
    )
    warranty: str | None = Field(
        default=None, description="The decision and remedy the repair was done under."
    )
    chargeable: bool = False
    customer_signature: Signature | None = None
    technician_signature: Signature | None = None
    signed_form_attachment: str | None = Field(
        default=None, description="The photo of the signed paper form."
    )
    recorded_by: str
    recorded_at: datetime

    def recorded_event(self) -> tuple[str, RepairRecorded]:
        return (
            "repair.recorded",
            RepairRecorded(
                case_id=self.case_id,
                record_id=self.record_id,
                request_id=self.request_id,
                serial_no=self.serial_no,
                parts=[p.part for p in self.parts],
                repaired_on=self.repaired_on,
            ),
        )
