"""Which chosen dead letters exist: checked against Kafka before a replay reads anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from operations.handlers import Selection


class InvalidSelection(Exception):
    """Some chosen dead letters do not exist: nothing was read or replayed."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        super().__init__("; ".join(f"#{i} {field}: {message}" for i, field, message in problems))
        self.problems = problems  # (index in the request, field, message)


def check_selections(
    chosen: list[Selection], bounds: dict[str, dict[int, tuple[int, int]]]
) -> list[tuple[int, str, str]]:
    """What is wrong with each selection, against the dead-letter topics as Kafka has them now."""
    problems: list[tuple[int, str, str]] = []
    for i, sel in enumerate(chosen):
        parts = bounds.get(sel.dead_letter_topic)
        if parts is None:
            problems.append(
                (
                    i,
                    "dead_letter_topic",
                    f"no dead-letter topic {sel.dead_letter_topic} "
                    f"(there are: {', '.join(sorted(bounds)) or 'none yet'})",
                )
            )
        elif sel.partition not in parts:
            problems.append((i, "partition", f"{sel.dead_letter_topic} has partitions 0 to {max(parts)}"))
        else:
            first, end = parts[sel.partition]
            if not first <= sel.offset < end:
                held = f"offsets {first} to {end - 1}" if end > first else "nothing"
                problems.append(
                    (i, "offset", f"partition {sel.partition} of {sel.dead_letter_topic} holds {held}")
                )
    return problems
