"""Closure discipline (R-DS-5): what must have ended before a case closes, and the closure rules.

A case closes only when its warranty decision is settled, every parts request and remedy on it has
ended, and, where the outcome is a repair, the repair record is in. Otherwise the closure is refused
naming what is open, unless the manager closes it with a reason (which is kept on the case and in the
event). Pure functions over the case; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.periods import china_date

if TYPE_CHECKING:
    from dispatch.domain.case import Case

ENDED_PARTS_STATES = ("repaired", "closed", "cancelled")
ENDED_REMEDY_STATES = ("completed", "cancelled")
REPAIR_OUTCOMES = ("repaired",)


@dataclass(frozen=True)
class ClosurePolicy:
    """The numbers of closure, reopening and follow-up escalation (policy.yaml `closure`)."""

    repeat_within_days: int = 90
    reopen_at_satisfaction: int = 2
    follow_up_overdue_after_days: int = 3

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> ClosurePolicy:
        policy = cls(
            int(data["repeat_within_days"]),
            int(data["reopen_at_satisfaction"]),
            int(data["follow_up_overdue_after_days"]),
        )
        if policy.repeat_within_days < 0 or policy.follow_up_overdue_after_days < 0:
            raise ValueError("closure: days are zero or more")
        if not 0 <= policy.reopen_at_satisfaction <= 5:
            raise ValueError("closure: reopen_at_satisfaction is 0 (never) to 5")
        return policy


@dataclass(frozen=True)
class OpenItem:
    """Something that keeps a case from closing, in the words the refusal gives (Chinese and English)."""

    item: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"item": self.item, "zh": self.zh, "en": self.en}


class ClosureRefused(Exception):
    """The case still has open items; only the manager may close it anyway, with a reason."""

    def __init__(self, case_id: str, items: list[OpenItem]) -> None:
        listed = "; ".join(i.item for i in items)
        super().__init__(
            f"case {case_id} cannot close yet: {listed} (the manager may close it with a reason)"
        )
        self.items = items


def open_items(case: Case, outcome: str | None) -> list[OpenItem]:
    """Everything that has not ended on the case, for a closure with this outcome."""
    items: list[OpenItem] = []
    decision = case.warranty
    if decision is None:
        items.append(OpenItem("warranty: no decision", "尚无保修判定", "no warranty decision yet"))
    elif decision.get("decision") == "needs_evidence":
        items.append(
            OpenItem(
                "warranty: needs_evidence",
                "保修判定尚缺证据（needs_evidence），请补充证据",
                "the warranty decision still needs evidence",
            )
        )
    for request_id, action in sorted(case.parts_actions.items()):
        # Key-part requests (R-PA-1) are the case's own work; a purchase request restocks the company's
        # consumables (the customer was told when to expect the item) and keeps no case open.
        if action.get("part") and action.get("state") not in ENDED_PARTS_STATES:
            items.append(
                OpenItem(
                    f"parts request {request_id}: {action.get('state') or 'open'}",
                    f"配件申请 {request_id} 未完成（{action.get('state') or 'open'}）",
                    f"parts request {request_id} is still {action.get('state') or 'open'}",
                )
            )
    for remedy_id, remedy in sorted(case.remedies.items()):
        if remedy.get("state") not in ENDED_REMEDY_STATES:
            items.append(
                OpenItem(
                    f"remedy {remedy_id}: {remedy.get('remedy')}",
                    f"补救措施 {remedy_id}（{remedy.get('remedy')}）尚未完成",
                    f"remedy {remedy_id} ({remedy.get('remedy')}) has not been carried out",
                )
            )
    if outcome in REPAIR_OUTCOMES and not case.repair_records:
        items.append(
            OpenItem(
                "repair record",
                "结论为维修，但尚无《产品(设备)售后服务维修记录单》",
                "the outcome is a repair but no repair record form is in",
            )
        )
    return items


def repeat_links(case: Case, same_unit: list[Case], *, within_days: int) -> dict[str, Any]:
    """A complaint about a unit that had a case within `within_days` (of that case's closure, or while it
    was open) is a repeat, linked to the latest such case; and the later complaints linked to this one.

    Worked out from the cases of the unit whenever the case is read, never frozen when it was opened:
    complaints about one unit arriving together (or handled by two replicas at once) link the same way
    whatever order they were handled in."""
    earlier = _earlier_case(case, same_unit, within_days)
    return {
        "linked_to": earlier[0].case_id if earlier else None,
        "linked_days_since": earlier[1] if earlier else None,
        "repeats": [
            c.case_id
            for c in sorted(same_unit, key=_order)
            if c.case_id != case.case_id
            and (e := _earlier_case(c, same_unit, within_days)) is not None
            and e[0].case_id == case.case_id
        ],
    }


def _order(c: Case) -> tuple[Any, str]:
    return (c.received_at, c.case_id)


def _earlier_case(case: Case, same_unit: list[Case], within_days: int) -> tuple[Case, int] | None:
    found: tuple[Case, int] | None = None
    received_on = china_date(case.received_at)
    for other in same_unit:
        if other.case_id == case.case_id or _order(other) >= _order(case):
            continue
        # Closed before this complaint came: days since; still open then (or now): 0.
        ended = (
            other.closed_at if other.closed_at is not None and other.closed_at <= case.received_at else None
        )
        days = max(0, (received_on - china_date(ended)).days) if ended else 0
        if days <= within_days and (found is None or _order(other) > _order(found[0])):
            found = (other, days)
    return found
