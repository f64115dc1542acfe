"""Files on a project (R-EV-1): the signed acceptance forms, site photos, certificates and settlement
papers that prove what the project's records say. Engineering and management add them (a phone's camera
works); every role that may read the project lists and downloads them. Each file's type is read from its
bytes (shared.attachments) and the project's history says who added what, when."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Path, Request, UploadFile, status
from fastapi.responses import Response

from engineering.domain.access import READERS
from engineering.entrypoints.http import ProjectId, _change, _e, _project
from shared.attachments import (
    Attachment,
    AttachmentKind,
    AttachmentStore,
    download,
    store_upload,
)
from shared.http.app import JsonRoute
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey
from shared.roles import PROJECT_FILE_UPLOADERS

AttachmentId = Annotated[str, Path(pattern=r"^F-[0-9A-Z]{16}$")]
Reader = Annotated[Principal, require_roles(*READERS)]
Uploader = Annotated[Principal, require_roles(*PROJECT_FILE_UPLOADERS)]
UPLOAD_PATHS = r"/attachments$"

router = APIRouter(prefix="/v1/projects", tags=["project files (R-EV-1)"], route_class=JsonRoute)


def _files(request: Request) -> AttachmentStore:
    return request.app.state.runtime.components["attachments"]


def view(a: Attachment) -> dict[str, Any]:
    return a.model_dump(mode="json") | {"href": f"/v1/projects/{a.owner_id}/attachments/{a.attachment_id}"}


@router.post(
    "/{project_id}/attachments",
    status_code=201,
    summary="Attach a photo or PDF to a project (engineering, management)",
)
async def post_attachment(
    request: Request,
    project_id: ProjectId,
    principal: Uploader,
    file: Annotated[UploadFile, File(description="JPEG, PNG, HEIC or PDF, at most 10 MB.")],
    kind: Annotated[AttachmentKind, Form()] = "other",
    note: Annotated[str, Form(max_length=500)] = "",
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    await _project(request, project_id)  # 404 before the bytes are stored anywhere
    stored = await store_upload(
        _files(request),
        principal,
        "project",
        project_id,
        file,
        kind=kind,
        note=note,
        idempotency_key=idempotency_key,
        at=_e(request).clock(),
    )
    # The file is in GridFS (once per key); the history line is one more change under the same key, so a
    # retry after a crash between the two writes adds the line once and stores nothing twice.
    await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        {"attachment_id": stored.attachment_id},
        lambda p: p.attach_file(
            attachment_id=stored.attachment_id,
            filename=stored.filename,
            kind=stored.kind,
            note=note,
            by=principal.id,
            now=stored.uploaded_at,
        ),
    )
    return view(stored)


@router.get("/{project_id}/attachments", summary="The files on a project (every role that reads projects)")
async def list_attachments(request: Request, project_id: ProjectId, principal: Reader) -> dict[str, Any]:
    await _project(request, project_id)
    return {"items": [view(a) for a in await _files(request).of("project", project_id)]}


@router.get(
    "/{project_id}/attachments/{attachment_id}",
    summary="Download a file of a project",
    response_class=Response,
)
async def get_attachment(
    request: Request, project_id: ProjectId, attachment_id: AttachmentId, principal: Reader
) -> Response:
    files = _files(request)
    found = await files.get(attachment_id)
    if found is None or (found.owner_kind, found.owner_id) != ("project", project_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"attachment {attachment_id} not found")
    return await download(files, found)
