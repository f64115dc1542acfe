"""Events of engineering.projects.v1: installation projects, from won bid to archived acceptance."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shared.contracts.base import Contract


class InstalledUnit(Contract):
    serial_no: str
    model: str


class InstallationAccepted(Contract):
    """The works passed acceptance (R-EN-4): the equipment and workmanship warranties start (R-EN-5)."""

    project_id: str
    client: str
    site: str
    accepted_on: date
    units: list[InstalledUnit] = Field(min_length=1)
