"""The dated warranty rule sets every service reads the same way (../WARRANTY-RULES.md).

The YAML files here are the company's numbers (periods, 三包 days, documents, depreciation), each with
an `effective_from`. Warranty decides with all of them; engineering reads the installation maintenance
year from the same files, so the two can never disagree about how long it lasts. `RULESETS_DIR`
(env WARRANTY_RULESETS_DIR / RULESETS_DIR in both services) replaces the directory without a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

RULESETS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Periods:
    """The periods of one rule set, in months (§二.3.4, 权益 3)."""

    version: str
    effective_from: date
    product_months: int
    installed_equipment_months: int
    installation_workmanship_months: int


def load_rule_sets(directory: Path = RULESETS_DIR) -> list[dict[str, Any]]:
    """Every rule set in `directory` as its mapping, oldest `effective_from` first."""
    sets = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(Path(directory).glob("*.yaml"))]
    if not sets:
        raise ValueError(f"no rule sets in {directory}")
    return sorted(sets, key=lambda d: date.fromisoformat(str(d["effective_from"])))


@dataclass(frozen=True)
class PeriodBook:
    """The periods of every rule set; the one in effect on a day applies (as warranty chooses)."""

    sets: tuple[Periods, ...]

    @classmethod
    def from_directory(cls, directory: Path = RULESETS_DIR) -> PeriodBook:
        return cls(
            tuple(
                Periods(
                    version=str(d["version"]),
                    effective_from=date.fromisoformat(str(d["effective_from"])),
                    product_months=int(d["periods"]["product_months"]),
                    installed_equipment_months=int(d["periods"]["installed_equipment_months"]),
                    installation_workmanship_months=int(d["periods"]["installation_workmanship_months"]),
                )
                for d in load_rule_sets(directory)
            )
        )

    def for_day(self, day: date) -> Periods:
        in_effect = [s for s in self.sets if s.effective_from <= day]
        return in_effect[-1] if in_effect else self.sets[0]
