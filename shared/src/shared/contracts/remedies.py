"""Events of warranty.remedies.v1: a remedy carried out on a case (R-WA-8): chosen, completed, cancelled.

Warranty owns the topic; dispatch reads it to know whether a case's remedy has ended before closure
(R-DS-5), notifications to tell the customer. Kept minimal: what the remedy is, who chose it, when it
ended.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.warranty import Remedy


class RemedyChosen(Contract):
    """The remedy the case will get (the customer's choice in the 三包 windows, or the decided one)."""

    case_id: str
    remedy_id: str
    remedy: Remedy
    chosen_by: str = Field(description="Who chose it: the customer (through the specialist) or the specialist.")
    chosen_at: datetime


class RemedyCompleted(Contract):
    """The remedy was carried out (unit returned, exchanged, repaired, replaced...)."""

    case_id: str
    remedy_id: str
    remedy: Remedy
    completed_at: datetime


class RemedyCancelled(Contract):
    """The remedy will not be carried out (the customer withdrew, a later decision replaced it)."""

    case_id: str
    remedy_id: str
    reason: str
