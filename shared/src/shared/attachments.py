"""Files attached to cases, units and projects (R-EV-1): photos and PDFs kept in GridFS on the store.

The type of a file is decided from its bytes (the file's name and the Content-Type it was sent with are
kept, never trusted): JPEG, PNG, HEIC and PDF are accepted, anything else is refused (415), and a file
over 10 MB is refused (413). Each file records who uploaded it, in which role, when, its SHA-256 and
what it shows (invoice, service card, damage, voltage reading, signed form, other). Who may list or
download a file is the owner's question (a case's readers): the service asks before calling here.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import filetype
from fastapi import HTTPException, UploadFile
from fastapi.responses import Response
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pydantic import BaseModel, Field
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.http.auth import Principal
from shared.http.commands import change_key
from shared.mongo import Document
from shared.unit_of_work import ChangeKey, IdempotencyConflict

MAX_BYTES = 10 * 1024 * 1024
# What a multipart upload may carry besides the file (its form fields and boundaries).
UPLOAD_OVERHEAD_BYTES = 64 * 1024
# Content types by what the bytes are; APNG is a PNG to every viewer.
ACCEPTED = {
    "image/jpeg": "image/jpeg",
    "image/png": "image/png",
    "image/apng": "image/png",
    "image/heic": "image/heic",
    "application/pdf": "application/pdf",
}
# HEIF brands of HEVC-coded pictures (ISO/IEC 23008-12): heic/heix for still images, hevc/hevx for image
# sequences (bursts, live photos), heim/heis for multi-layer ones. Phones write all of them, and filetype
# knows `heic` alone, so the ftyp box is read here.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
# The generic HEIF brands (image, sequence): such a file names its codec among its compatible brands.
HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
AttachmentKind = Literal["invoice", "service_card", "damage", "voltage_reading", "signed_form", "other"]
OwnerKind = Literal["case", "unit", "project"]


class Attachment(BaseModel):
    attachment_id: str
    owner_kind: OwnerKind
    owner_id: str
    kind: AttachmentKind
    filename: str
    content_type: str = Field(description="Decided from the bytes, not from the name or the header.")
    size: int
    sha256: str
    uploaded_by: str
    role: str
    uploaded_at: datetime
    note: str = ""


def sniff(data: bytes) -> str | None:
    """The accepted content type the bytes are, or None (an executable named .jpg is None)."""
    if data[4:8] == b"ftyp":  # ISO-BMFF: of all its brands only HEIC photos are accepted, decided here
        return "image/heic" if is_heic(data) else None
    found = filetype.guess_mime(data[:8192]) if data else None
    return ACCEPTED.get(found or "")


def is_heic(data: bytes) -> bool:
    """Whether the file opens with an ISO-BMFF `ftyp` box whose major brand is an HEVC-coded HEIF brand,
    or a generic HEIF brand listing one among its compatible brands (an AVIF or an MP4 is not)."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[0:4], "big")
    if size < 16 or size > len(data):  # a phone's ftyp box never uses 0 (to the end) or 1 (a 64-bit size)
        return False
    major = data[8:12]
    if major in HEIC_BRANDS:
        return True
    compatible = {data[i : i + 4] for i in range(16, size - 3, 4)}
    return major in HEIF_BRANDS and not compatible.isdisjoint(HEIC_BRANDS)


async def read_upload(upload: UploadFile, *, max_bytes: int = MAX_BYTES) -> tuple[bytes, str]:
    """The file's bytes and what they are: 413 past the limit, 415 for anything but a photo or a PDF."""
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(413, detail=f"file: larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise HTTPException(
            422,
            detail={
                "message": "invalid request: file: the file is empty",
                "errors": [{"field": "file", "message": "empty file", "type": "value_error"}],
            },
        )
    content_type = sniff(data)
    if content_type is None:
        raise HTTPException(
            415,
            detail="file: only photos (JPEG, PNG, HEIC) and PDF files are accepted; "
            "the type is read from the file's content, not its name",
        )
    return data, content_type


class AttachmentStore:
    """One GridFS bucket per service database; metadata on each file, listed by owner through an index."""

    def __init__(self, db: AsyncDatabase[Document], bucket: str = "attachments") -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=bucket)
        self.files = db[f"{bucket}.files"]

    async def ensure_indexes(self) -> None:
        await self.files.create_index(
            [("metadata.owner_kind", ASCENDING), ("metadata.owner_id", ASCENDING), ("uploadDate", ASCENDING)]
        )

    @staticmethod
    def _attachment(doc: dict[str, Any]) -> Attachment:
        return Attachment.model_validate(
            {
                **doc["metadata"],
                "attachment_id": doc["_id"],
                "filename": doc["filename"],
                "size": doc["length"],
            }
        )

    async def put(
        self,
        owner_kind: OwnerKind,
        owner_id: str,
        data: bytes,
        *,
        content_type: str,
        filename: str,
        kind: AttachmentKind,
        by: str,
        role: str,
        at: datetime,
        note: str = "",
        key: ChangeKey | None = None,
    ) -> Attachment:
        """Store a file. Under an Idempotency-Key the id comes from the key: a retry returns the file the
        first attempt stored, and the same key with other bytes or another owner is refused."""
        sha256 = hashlib.sha256(data).hexdigest()
        attachment_id = key.derived_id("F-", 16) if key else f"F-{uuid.uuid4().hex[:16].upper()}"
        if key is not None and (earlier := await self.get(attachment_id)) is not None:
            if (earlier.sha256, earlier.owner_kind, earlier.owner_id, earlier.kind) != (
                sha256,
                owner_kind,
                owner_id,
                kind,
            ):
                raise IdempotencyConflict(key.key)
            return earlier
        metadata = {
            "owner_kind": owner_kind,
            "owner_id": owner_id,
            "kind": kind,
            "content_type": content_type,
            "sha256": sha256,
            "uploaded_by": by,
            "role": role,
            "uploaded_at": at,
            "note": note,
        }
        await self.bucket.upload_from_stream_with_id(
            attachment_id, _safe_name(filename), data, metadata=metadata
        )
        return Attachment(
            attachment_id=attachment_id, filename=_safe_name(filename), size=len(data), **metadata
        )

    async def get(self, attachment_id: str) -> Attachment | None:
        doc = await self.files.find_one({"_id": attachment_id})
        return self._attachment(doc) if doc and doc.get("metadata") else None

    async def of(self, owner_kind: OwnerKind, owner_id: str) -> list[Attachment]:
        cursor = self.files.find({"metadata.owner_kind": owner_kind, "metadata.owner_id": owner_id}).sort(
            "uploadDate", ASCENDING
        )
        return [self._attachment(d) async for d in cursor]

    async def content(self, attachment_id: str) -> bytes:
        try:
            stream = await self.bucket.open_download_stream(attachment_id)
        except NoFile as exc:
            raise LookupError(f"attachment {attachment_id} has no content") from exc
        return await stream.read()


async def store_upload(
    store: AttachmentStore,
    principal: Principal,
    owner_kind: OwnerKind,
    owner_id: str,
    file: UploadFile,
    *,
    kind: AttachmentKind,
    note: str,
    idempotency_key: str | None,
    at: datetime,
) -> Attachment:
    """A staff upload: read and typed from its bytes, stored once per Idempotency-Key (a double submit
    of the form stores one file)."""
    data, content_type = await read_upload(file)
    key = change_key(
        principal,
        idempotency_key,
        action=f"attach {owner_id}",
        body={"kind": kind, "note": note, "name": file.filename},
    )
    return await store.put(
        owner_kind,
        owner_id,
        data,
        content_type=content_type,
        filename=file.filename or "",
        kind=kind,
        by=principal.id,
        role=principal.role,
        at=at,
        note=note,
        key=key,
    )


async def download(store: AttachmentStore, attachment: Attachment) -> Response:
    """The file as its stored type, shown inline, never sniffed by the browser and never cached."""
    return Response(
        await store.content(attachment.attachment_id),
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(attachment.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _safe_name(filename: str | None) -> str:
    """The name as given, without a path or control characters, at most 120 characters."""
    name = (filename or "file").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"')
    return name[:120] or "file"
