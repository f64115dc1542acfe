"""Files on cases and units (R-EV-1): staff and the case's channel upload and read them; the customer adds
a photo with the case number and the phone's last four digits, or activates a unit's warranty with a
photo of the invoice. Every file's type is read from its bytes (shared.attachments)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Path, Request, UploadFile, status
from fastapi.responses import Response

from shared.attachments import (
    Attachment,
    AttachmentKind,
    AttachmentStore,
    OwnerKind,
    download,
    read_upload,
    store_upload,
)
from shared.contracts.ids import CaseId as CaseNumber
from shared.http.app import JsonRoute, invalid
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey
from shared.periods import china_date
from shared.reference import check_sale_date, normalise_phone, normalise_serial
from shared.unit_of_work import ChangeKey
from warranty.domain.access import UNIT_READERS, can_read
from warranty.domain.facts import CaseFacts
from warranty.domain.unit import Sale, UnitRefused
from warranty.handlers import Warranty, register_sale

CaseId = Annotated[CaseNumber, Path(description="The case number, YD-…")]
AttachmentId = Annotated[str, Path(pattern=r"^F-[0-9A-Z]{16}$")]
Note = Annotated[str, Form(max_length=500)]
CaseReader = Annotated[Principal, require_roles()]
UnitReader = Annotated[Principal, require_roles(*UNIT_READERS)]
UPLOAD_PATHS = r"/attachments$|/activation$"

router = APIRouter(tags=["attachments (R-EV-1)"], route_class=JsonRoute)


def _w(request: Request) -> Warranty:
    return request.app.state.runtime.components["warranty"]


def _files(request: Request) -> AttachmentStore:
    return request.app.state.runtime.components["attachments"]


async def _readable_case(request: Request, case_id: str, principal: Principal) -> CaseFacts:
    facts = await _w(request).cases.get(case_id)
    if facts is None or not can_read(principal, facts):
        # Another channel's case looks like no case at all.
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
    return facts


def view(a: Attachment) -> dict[str, Any]:
    return a.model_dump(mode="json") | {"href": f"/v1/attachments/{a.attachment_id}"}


async def _store_upload(
    request: Request,
    principal: Principal,
    owner_kind: OwnerKind,
    owner_id: str,
    file: UploadFile,
    kind: AttachmentKind,
    note: str,
    idempotency_key: str | None,
) -> dict[str, Any]:
    stored = await store_upload(
        _files(request),
        principal,
        owner_kind,
        owner_id,
        file,
        kind=kind,
        note=note,
        idempotency_key=idempotency_key,
        at=_w(request).clock(),
    )
    return view(stored)


@router.post(
    "/v1/cases/{case_id}/attachments",
    status_code=201,
    summary="Attach a photo or PDF to a case (anyone who may read the case)",
)
async def post_case_attachment(
    request: Request,
    case_id: CaseId,
    principal: CaseReader,
    file: Annotated[UploadFile, File(description="JPEG, PNG, HEIC or PDF, at most 10 MB.")],
    kind: Annotated[AttachmentKind, Form()] = "other",
    note: Note = "",
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    await _readable_case(request, case_id, principal)
    return await _store_upload(request, principal, "case", case_id, file, kind, note, idempotency_key)


@router.get("/v1/cases/{case_id}/attachments", summary="The files on a case (anyone who may read the case)")
async def list_case_attachments(request: Request, case_id: CaseId, principal: CaseReader) -> dict[str, Any]:
    facts = await _readable_case(request, case_id, principal)
    files = await _files(request).of("case", case_id)
    if facts.serial_no and principal.role in UNIT_READERS:
        files += await _files(request).of("unit", facts.serial_no)
    return {"items": [view(a) for a in files]}


@router.post(
    "/v1/warranty/units/{serial_no}/attachments", status_code=201, summary="Attach a file to a unit (staff)"
)
async def post_unit_attachment(
    request: Request,
    serial_no: Annotated[str, Path(max_length=60)],
    principal: UnitReader,
    file: Annotated[UploadFile, File()],
    kind: Annotated[AttachmentKind, Form()] = "other",
    note: Note = "",
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    serial = _serial(serial_no)
    return await _store_upload(request, principal, "unit", serial, file, kind, note, idempotency_key)


@router.get("/v1/warranty/units/{serial_no}/attachments", summary="The files on a unit (staff)")
async def list_unit_attachments(
    request: Request, serial_no: Annotated[str, Path(max_length=60)], principal: UnitReader
) -> dict[str, Any]:
    return {"items": [view(a) for a in await _files(request).of("unit", _serial(serial_no))]}


@router.get(
    "/v1/attachments/{attachment_id}",
    summary="Download a file (as its owner's readers may)",
    response_class=Response,
)
async def get_attachment(request: Request, attachment_id: AttachmentId, principal: CaseReader) -> Response:
    files = _files(request)
    found = await files.get(attachment_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"attachment {attachment_id} not found")
    if found.owner_kind == "case":
        await _readable_case(request, found.owner_id, principal)
    elif principal.role not in UNIT_READERS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"attachment {attachment_id} not found")
    return await download(files, found)


# ------------------------------------------------------------------------------------ the customer

public = APIRouter(prefix="/v1/public", tags=["the customer"], route_class=JsonRoute)


async def _limited(request: Request) -> None:
    w = _w(request)
    host = request.client.host if request.client else "?"
    await request.app.state.runtime.components["limiter"].hit(w.public_rate_limit, "public-upload", host)


@public.post(
    "/cases/{case_id}/attachments",
    status_code=201,
    summary="The customer adds a photo or PDF to their case (case number + the phone's last four digits)",
)
async def customer_attachment(
    request: Request,
    case_id: CaseId,
    phone_last4: Annotated[
        str, Form(pattern=r"^\d{4}$", description="The last four digits of the phone given.")
    ],
    file: Annotated[UploadFile, File()],
    kind: Annotated[AttachmentKind, Form()] = "damage",
    note: Note = "",
) -> dict[str, Any]:
    await _limited(request)
    facts = await _w(request).cases.get(case_id)
    if facts is None or not facts.phone_last4 or facts.phone_last4 != phone_last4:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no case with this number and phone")
    data, content_type = await read_upload(file)
    stored = await _files(request).put(
        "case",
        case_id,
        data,
        content_type=content_type,
        filename=file.filename or "",
        kind=kind,
        by="customer",
        role="customer",
        at=_w(request).clock(),
        note=note,
        key=_same_file_once("customer", case_id, data, kind),
    )
    return {
        "attachment_id": stored.attachment_id,
        "kind": stored.kind,
        "filename": stored.filename,
        "content_type": stored.content_type,
        "size": stored.size,
        "uploaded_at": stored.uploaded_at,
    }


@public.post(
    "/units/{serial_no}/activation",
    status_code=201,
    summary="The customer activates a unit's warranty from its QR code: phone, purchase date, invoice photo",
)
async def activate(
    request: Request,
    serial_no: Annotated[str, Path(max_length=60)],
    phone: Annotated[str, Form(max_length=30)],
    purchase_date: Annotated[date, Form()],
    invoice: Annotated[UploadFile, File(description="A photo or PDF of the invoice.")],
) -> dict[str, Any]:
    await _limited(request)
    w = _w(request)
    serial = _serial(serial_no)
    try:
        phone_e164 = normalise_phone(phone)
    except ValueError as exc:
        raise invalid("phone", str(exc)) from exc
    if purchase_date > china_date(w.clock()):
        raise invalid("purchase_date", "the purchase date is in the future")
    try:
        check_sale_date(purchase_date, None, serial)
    except ValueError as exc:
        raise invalid("purchase_date", str(exc)) from exc
    data, content_type = await read_upload(invoice)
    stored = await _files(request).put(
        "unit",
        serial,
        data,
        content_type=content_type,
        filename=invoice.filename or "",
        kind="invoice",
        by="customer",
        role="customer",
        at=w.clock(),
        key=_same_file_once("activation", serial, data, "invoice"),
    )
    sale = Sale(
        source="customer",
        purchase_date=purchase_date,
        invoice_attachment=stored.attachment_id,
        customer_phone=phone_e164,
        recorded_by="customer",
        recorded_at=w.clock(),
    )
    try:
        unit = await register_sale(w, serial, sale, model=None)
    except UnitRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return {
        "serial_no": unit.serial_no,
        "model": unit.model,
        "activated": True,
        "purchase_date": unit.sale.purchase_date if unit.sale else purchase_date,
    }


def _same_file_once(who: str, owner: str, data: bytes, kind: str) -> ChangeKey:
    """Public uploads have no key of their own: the same bytes sent again are the same file."""
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    return ChangeKey.of_request(caller=who, key=f"{owner}:{digest}", request={"kind": kind})


def _serial(raw: str) -> str:
    try:
        return normalise_serial(raw)
    except ValueError as exc:
        raise invalid("serial_no", str(exc)) from exc
