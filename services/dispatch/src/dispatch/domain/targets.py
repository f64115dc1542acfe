"""Time targets per category and priority (R-DS-4), read from configuration, never from code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

TARGET_NAMES = ("assign", "first_reply", "close")


@dataclass(frozen=True)
class TargetPolicy:
    table: dict[str, dict[str, dict[str, float]]]
    follow_up_after_days: int

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> TargetPolicy:
        table = {str(c): {str(p): dict(v) for p, v in rows.items()} for c, rows in data["targets"].items()}
        base = table.get("*", {}).get("*", {})
        missing = [n for n in TARGET_NAMES if n not in base]
        if missing:
            raise ValueError(f'targets["*"]["*"] must set every target; missing {missing}')
        for rows in table.values():
            for row in rows.values():
                for name, hours in row.items():
                    if name not in TARGET_NAMES or float(hours) <= 0:
                        raise ValueError(f"bad target {name}: {hours} (targets: {TARGET_NAMES}, hours > 0)")
        return cls(table=table, follow_up_after_days=int(data.get("follow_up_after_days", 7)))

    @classmethod
    def from_file(cls, path: Path) -> TargetPolicy:
        return cls.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))

    def hours(self, category: str, priority: str) -> dict[str, float]:
        """The most specific row wins, field by field."""
        merged: dict[str, float] = {}
        for c, p in (("*", "*"), ("*", priority), (category, "*"), (category, priority)):
            merged.update(self.table.get(c, {}).get(p, {}))
        return merged

    def due_dates(self, category: str, priority: str, received_at: datetime) -> dict[str, datetime]:
        return {name: received_at + timedelta(hours=h) for name, h in self.hours(category, priority).items()}
