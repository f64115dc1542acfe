"""A unit's page (R-WA-7, R-EV-1): what warranty knows of one serial number, from its sale to its return,
with the files kept on it. Opened from a case's product line or a project's equipment list."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from console import access
from console.entrypoints.web import console_of, new_key, problem, redirect, render, require
from shared.reference import normalise_serial

router = APIRouter(include_in_schema=False)
SerialPath = Annotated[str, Path(min_length=1, max_length=60)]


@router.get("/units", response_class=HTMLResponse)
async def find_unit(request: Request, serial_no: Annotated[str, Query(max_length=60)] = "") -> Response:
    """The lookup box: a serial as typed (spaces, lower case) opens its unit's page."""
    require(request, access.UNIT_READERS)
    if not serial_no.strip():
        return render(request, "unit.html", {"unit": None, "serial_no": ""})
    try:
        serial = normalise_serial(serial_no)
    except ValueError as exc:  # warranty's own rule for a serial, said before asking it
        return render(
            request, "unit.html", {"unit": None, "serial_no": serial_no, "error": str(exc)}, status=422
        )
    return redirect(f"/units/{quote(serial, safe='')}")


@router.get("/units/{serial_no}", response_class=HTMLResponse)
async def unit_page(request: Request, serial_no: SerialPath) -> Response:
    user = require(request, access.UNIT_READERS)
    warranty = console_of(request).services.warranty
    path = f"/v1/warranty/units/{quote(serial_no, safe='')}"
    unit, files = await asyncio.gather(
        warranty.get(path, key=user.key), warranty.get(f"{path}/attachments", key=user.key)
    )
    if not unit.ok:
        return render(
            request,
            "not_found.html",
            {"what": serial_no, "error": problem(unit)[0]},
            status=unit.status,
            user=user,
        )
    data = unit.json({}) or {}
    items = (files.json({}) or {}).get("items", []) if files.ok else []
    return render(
        request,
        "unit.html",
        {
            "unit": data,
            "serial_no": data.get("serial_no", serial_no),
            "attachments": items,
            "attachments_error": None if files.ok else problem(files)[0],
            "attach_key": new_key("attach"),
        },
        user=user,
    )
