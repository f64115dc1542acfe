"""Files (R-EV-1) through the console: staff attach photos and PDFs to a case, a unit or a project (a phone's
camera works) and download them with their own key; the customer adds a photo from the status page (case number + the
phone's last four digits) and activates a unit's warranty with a photo of the invoice.

The service that keeps a file (warranty for cases and units, engineering for projects) decides everything
about it: its type from its bytes, its size, who may read it. The
console forwards the multipart form as it came and says a refusal in plain words (413, 415).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from console import access
from console.adapters.services import Api, ServiceClient
from console.entrypoints.cases import public_ctx, public_limit, status_answer
from console.entrypoints.projects import ProjectId as ProjectIdPath
from console.entrypoints.web import (
    console_of,
    new_key,
    problem,
    redirect,
    render,
    require,
    upload_of,
    upload_refusal,
)
from shared.contracts.ids import CaseId
from shared.logging import get_logger

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)
CaseIdPath = Annotated[CaseId, Path()]
SerialPath = Annotated[str, Path(min_length=1, max_length=60)]
AttachmentIdPath = Annotated[str, Path(pattern=r"^F-[0-9A-Z]{16}$")]
KINDS = ("damage", "invoice", "service_card", "voltage_reading", "signed_form", "other")
# The console's own body limit on the routes that take a file: twice warranty's 10 MB, so a file a little
# over is still read and refused in words (warranty's own limit is the rule).
UPLOAD_PATHS = r"/attachments$|/activation$"


def _words(status: int | str, api: Api | None = None) -> str:
    zh, en = upload_refusal(status)
    return f"{zh} / {en}" + (f" ({status})" if isinstance(status, int) else "")


def _refused(api: Api) -> str:
    """A refused upload: 413 and 415 in plain words, anything else as every other refusal."""
    if api.status in (413, 415):
        return _words(api.status)
    return problem(api)[0]


# ------------------------------------------------------------------------------------ staff


async def _forward_upload(
    request: Request, api_of: ServiceClient, path: str, key: str, back: str
) -> Response:
    """The staff upload form, forwarded as it came to the service that keeps the file; back to the page
    with what happened in plain words."""
    upload = await upload_of(request)
    if not upload.chosen:
        return redirect(back, flash=("error", _words("none")))
    if upload.too_big:
        return redirect(back, flash=("error", _words(413)))
    data = {"kind": upload.fields.get("kind") or "other", "note": upload.fields.get("note", "")}
    api = await api_of.upload(
        path,
        key=key,
        data=data,
        files=upload.files("file"),
        headers={"Idempotency-Key": upload.fields.get("idempotency_key") or new_key("attach")},
    )
    if not api.ok:
        message, items = problem(api)
        return redirect(
            back, flash=("error", _refused(api)), items=items if api.status not in (413, 415) else None
        )
    stored = api.data or {}
    return redirect(
        back, flash=("ok", f"已上传 {stored.get('filename', '')} / uploaded {stored.get('filename', '')}")
    )


async def _forward_download(
    request: Request, api_of: ServiceClient, path: str, what: str, key: str
) -> Response:
    """The file, fetched with the user's own key (a file the user may not read is not found)."""
    api = await api_of.get(path, key=key)
    if not api.ok:
        return render(request, "not_found.html", {"what": what, "error": problem(api)[0]}, status=api.status)
    # The service stores only what the bytes show to be a photo or a PDF, and says which; nosniff (added by
    # SameOriginPosts to every answer) keeps the browser to that type.
    headers = {"Cache-Control": "private, no-store"}
    if disposition := api.headers.get("content-disposition"):
        headers["Content-Disposition"] = disposition
    return Response(api.raw, media_type=api.content_type or "application/octet-stream", headers=headers)


@router.post("/cases/{case_id}/attachments")
async def post_case_attachment(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, access.CASE_READERS)
    warranty = console_of(request).services.warranty
    return await _forward_upload(
        request, warranty, f"/v1/cases/{case_id}/attachments", user.key, f"/cases/{case_id}#attachments"
    )


@router.post("/units/{serial_no}/attachments")
async def post_unit_attachment(request: Request, serial_no: SerialPath) -> Response:
    user = require(request, access.UNIT_READERS)
    serial = quote(serial_no, safe="")
    warranty = console_of(request).services.warranty
    return await _forward_upload(
        request,
        warranty,
        f"/v1/warranty/units/{serial}/attachments",
        user.key,
        f"/units/{serial}#attachments",
    )


@router.post("/projects/{project_id}/attachments")
async def post_project_attachment(request: Request, project_id: ProjectIdPath) -> Response:
    user = require(request, access.PROJECT_FILE_UPLOADERS)
    engineering = console_of(request).services.engineering
    return await _forward_upload(
        request,
        engineering,
        f"/v1/projects/{project_id}/attachments",
        user.key,
        f"/projects/{project_id}#attachments",
    )


@router.get("/attachments/{attachment_id}")
async def download(request: Request, attachment_id: AttachmentIdPath) -> Response:
    """A file of a case or a unit, from warranty."""
    user = require(request, access.CASE_READERS)
    warranty = console_of(request).services.warranty
    return await _forward_download(
        request, warranty, f"/v1/attachments/{attachment_id}", attachment_id, user.key
    )


@router.get("/projects/{project_id}/attachments/{attachment_id}")
async def download_project_file(
    request: Request, project_id: ProjectIdPath, attachment_id: AttachmentIdPath
) -> Response:
    """A file of a project, from engineering."""
    user = require(request, access.PROJECT_READERS)
    engineering = console_of(request).services.engineering
    path = f"/v1/projects/{project_id}/attachments/{attachment_id}"
    return await _forward_download(request, engineering, path, attachment_id, user.key)


# ------------------------------------------------------------------------------------ the customer


@router.post("/status/attachments", response_class=HTMLResponse)
async def customer_attachment(request: Request) -> Response:
    """The customer adds a photo or PDF to their case from the status page; warranty checks the case
    number and the phone's last four digits itself."""
    upload = await upload_of(request)
    case_id = upload.fields.get("case_id", "").strip().upper()
    last4 = upload.fields.get("phone_last4", "").strip()
    if not upload.chosen:
        return await status_answer(request, case_id, last4, {"upload_error": _words("none")}, status=422)
    if upload.too_big:
        return await status_answer(request, case_id, last4, {"upload_error": _words(413)}, status=413)
    if not await public_limit(request):
        return render(request, "status.html", public_ctx(request, case_id) | {"error": "busy"}, status=429)
    kind = upload.fields.get("kind") if upload.fields.get("kind") in KINDS else "damage"
    client_ip = request.client.host if request.client else "?"
    api = await console_of(request).services.warranty.upload(
        f"/v1/public/cases/{quote(case_id, safe='')}/attachments",
        key=None,
        data={"phone_last4": last4, "kind": kind, "note": upload.fields.get("note", "")[:500]},
        files=upload.files("file"),
        headers={"X-Forwarded-For": client_ip},
    )
    if api.status == 201:
        name = (api.data or {}).get("filename", "")
        return await status_answer(request, case_id, last4, {"uploaded": name})
    if api.status in (413, 415):
        return await status_answer(
            request, case_id, last4, {"upload_error": _words(api.status)}, status=api.status
        )
    if api.status in (404, 422):
        return render(
            request, "status.html", public_ctx(request, case_id) | {"error": "not_found"}, status=404
        )
    return render(
        request,
        "status.html",
        public_ctx(request, case_id) | {"error": "busy" if api.status == 429 else "unavailable"},
        status=api.status,
    )


ACTIVATION_FIELDS = ("serial_no", "phone", "purchase_date")


@router.get("/activation", response_class=HTMLResponse)
async def activation_page(request: Request) -> Response:
    """The warranty activation form, opened from the product's QR page (with the serial) or the status page."""
    values = {name: request.query_params.get(name, "")[:40] for name in ACTIVATION_FIELDS}
    return render(request, "activation.html", public_ctx(request) | {"form": values})


@router.post("/activation", response_class=HTMLResponse)
async def activate(request: Request) -> Response:
    upload = await upload_of(request, "invoice")
    values = {name: upload.fields.get(name, "")[:60] for name in ACTIVATION_FIELDS}
    ctx = public_ctx(request) | {"form": values}
    serial = values["serial_no"].strip()
    if not serial:
        return render(
            request, "activation.html", ctx | {"errors": [{"field": "serial_no", "message": "—"}]}, status=422
        )
    if not upload.chosen:
        return render(request, "activation.html", ctx | {"upload_error": _words("none")}, status=422)
    if upload.too_big:
        return render(request, "activation.html", ctx | {"upload_error": _words(413)}, status=413)
    if not await public_limit(request):
        return render(request, "activation.html", ctx | {"error": "busy"}, status=429)
    client_ip = request.client.host if request.client else "?"
    api = await console_of(request).services.warranty.upload(
        f"/v1/public/units/{quote(serial, safe='')}/activation",
        key=None,
        data={"phone": values["phone"], "purchase_date": values["purchase_date"]},
        files=upload.files("invoice"),
        headers={"X-Forwarded-For": client_ip},
    )
    if api.status == 201:
        return render(request, "activation.html", ctx | {"activated": api.data})
    if api.status in (413, 415):
        return render(
            request, "activation.html", ctx | {"upload_error": _words(api.status)}, status=api.status
        )
    data: dict[str, Any] = api.data if isinstance(api.data, dict) else {}
    if api.status == 422:
        errors = data.get("errors") or [{"field": "", "message": str(data.get("detail", ""))}]
        return render(request, "activation.html", ctx | {"errors": errors}, status=422)
    if api.status == 409:
        return render(
            request,
            "activation.html",
            ctx | {"error": "conflict", "detail": data.get("detail", "")},
            status=409,
        )
    return render(
        request,
        "activation.html",
        ctx | {"error": "busy" if api.status == 429 else "unavailable"},
        status=api.status,
    )
