"""The habits that keep one vocabulary: each of these lives in shared/ once, and nowhere else.

A new copy of the case-number pattern, the China time zone, a development key or a cross-service
import in tests fails here, naming the file, instead of drifting apart silently.
"""

from __future__ import annotations

import re
from pathlib import Path

from shared.testing.backends import repo_root

ROOT = repo_root()
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
HERE = Path(__file__).resolve()


def _python_files(*roots: str) -> list[Path]:
    return [
        p for r in roots for p in (ROOT / r).rglob("*.py") if ".venv" not in p.parts and p.resolve() != HERE
    ]


def _offenders(pattern: str, files: list[Path], allowed: set[str]) -> list[str]:
    regex = re.compile(pattern)
    return [
        str(p.relative_to(ROOT))
        for p in files
        if str(p.relative_to(ROOT)) not in allowed and regex.search(p.read_text(encoding="utf-8"))
    ]


def test_the_case_number_pattern_is_written_once() -> None:
    assert (
        _offenders(
            r"YD-\[0-9",
            _python_files("shared", "services", "tests", "bench"),
            {"shared/src/shared/contracts/ids.py"},
        )
        == []
    )


def test_the_china_time_zone_is_named_once() -> None:
    assert (
        _offenders(
            r"Asia/Shanghai|timedelta\(hours=8\)",
            _python_files("shared", "services", "tests", "bench"),
            {"shared/src/shared/periods.py"},
        )
        == []
    )


def test_tests_take_development_keys_from_the_credentials_file() -> None:
    test_files = _python_files("shared/tests", "tests", *(f"services/{s}/tests" for s in SERVICES))
    assert _offenders(r"dev-(?:staff|dealer|hotline|regional)-[\w-]*[0-9a-f]{8}", test_files, set()) == []


def test_no_service_s_tests_reach_into_another_service_s_rules() -> None:
    """Running another service in process is an end-to-end test; importing its domain or handlers is not."""
    found = []
    for service in SERVICES:
        others = "|".join(s for s in SERVICES if s != service)
        found += _offenders(
            rf"^\s*(?:from|import) (?:{others})\.(?:domain|handlers)\b",
            _python_files(f"services/{service}/tests"),
            set(),
        )
    assert found == []


def test_operations_replays_without_the_headers_consumers_add() -> None:
    """Replays strip exactly the dead-letter headers the consumer writes (one list, in shared)."""
    import inspect

    from operations import handlers

    assert "without_dead_letter_headers" in inspect.getsource(handlers.replay)
