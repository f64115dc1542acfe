"""Rule sets: the numbers the decisions use, loaded from dated YAML files and chosen by date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class RuleSet:
    version: str
    effective_from: date
    product_months: int
    installed_equipment_months: int
    installation_workmanship_months: int
    extend_by_repair_days: bool
    restart_on_exchange: bool
    return_within_days: int
    exchange_within_days: int
    repairs_before_exchange: int
    repair_days_limit: int
    parts_wait_days_limit: int
    burden_of_proof_months: int
    voltage_exclusion_parts: tuple[str, ...]
    require_invoice: bool
    require_stamped_service_card: bool
    require_confirmation: bool
    key_parts: tuple[str, ...]
    depreciation: tuple[tuple[int, float], ...]

    @classmethod
    def from_mapping(cls, d: dict[str, Any]) -> RuleSet:
        periods, sanbao = d["periods"], d["sanbao"]
        schedule = tuple(sorted((int(r["up_to_months"]), float(r["rate"])) for r in d["depreciation"]))
        if any(not 0 <= rate <= 1 for _, rate in schedule):
            raise ValueError("depreciation rates are shares between 0 and 1")
        return cls(
            version=str(d["version"]),
            effective_from=date.fromisoformat(str(d["effective_from"])),
            product_months=int(periods["product_months"]),
            installed_equipment_months=int(periods["installed_equipment_months"]),
            installation_workmanship_months=int(periods["installation_workmanship_months"]),
            extend_by_repair_days=bool(periods["extend_by_repair_days"]),
            restart_on_exchange=bool(periods["restart_on_exchange"]),
            return_within_days=int(sanbao["return_within_days"]),
            exchange_within_days=int(sanbao["exchange_within_days"]),
            repairs_before_exchange=int(sanbao["repairs_before_exchange"]),
            repair_days_limit=int(sanbao["repair_days_limit"]),
            parts_wait_days_limit=int(sanbao["parts_wait_days_limit"]),
            burden_of_proof_months=int(d["burden_of_proof_months"]),
            voltage_exclusion_parts=tuple(d["exclusions"]["voltage_damage_parts"]),
            require_invoice=bool(d["documents"]["require_invoice"]),
            require_stamped_service_card=bool(d["documents"]["require_stamped_service_card"]),
            require_confirmation=bool(d["confirmation"]["required"]),
            key_parts=tuple(d["key_parts"]),
            depreciation=schedule,
        )

    def depreciation_rate(self, age_months: int) -> float:
        for up_to, rate in self.depreciation:
            if age_months <= up_to:
                return rate
        return self.depreciation[-1][1]


@dataclass(frozen=True)
class RuleBook:
    """Every rule set, oldest first; a decision uses the one in effect on its day."""

    sets: tuple[RuleSet, ...]

    @classmethod
    def from_directory(cls, directory: Path) -> RuleBook:
        sets = [
            RuleSet.from_mapping(yaml.safe_load(p.read_text(encoding="utf-8")))
            for p in sorted(directory.glob("*.yaml"))
        ]
        if not sets:
            raise ValueError(f"no rule sets in {directory}")
        return cls(tuple(sorted(sets, key=lambda s: s.effective_from)))

    def for_day(self, day: date) -> RuleSet:
        in_effect = [s for s in self.sets if s.effective_from <= day]
        return in_effect[-1] if in_effect else self.sets[0]
