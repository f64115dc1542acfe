"""Who calls and what is called, in tests: the development keys by role, and fresh ids.

The keys come from deploy/local/dev-credentials.json, the file the services under test load, so a
test never holds a key the services do not know. Case numbers come from the generator intake issues
them with (shared.contracts.ids): no service's tests import intake to make one.
"""

from __future__ import annotations

import json
import random
import uuid
from functools import cache
from typing import Any

from shared.contracts.ids import new_case_id
from shared.testing.backends import repo_root

__all__ = [
    "api_key",
    "api_keys",
    "idempotency_key",
    "key_headers",
    "mobile_phone",
    "new_case_id",
    "principal_id",
    "serial_no",
]


@cache
def _credentials() -> dict[str, Any]:
    path = repo_root() / "deploy" / "local" / "dev-credentials.json"
    credentials: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return credentials


def _entries() -> dict[str, dict[str, Any]]:
    """The first entry of each channel and staff role, by role."""
    data = _credentials()
    first = {
        role: v[0] if isinstance(v, list) else v
        for role, v in data.items()
        if role not in ("staff", "_comment")
    }
    return first | {role: v[0] if isinstance(v, list) else v for role, v in data["staff"].items()}


def api_keys() -> dict[str, str]:
    """The development key of every role: manager → dev-staff-manager-…, dealer → dev-dealer-…."""
    return {role: entry["api_key"] for role, entry in _entries().items()}


def api_key(role: str) -> str:
    return api_keys()[role]


def key_headers() -> dict[str, dict[str, str]]:
    """{"manager": {"X-API-Key": …}, …}: the headers a test sends as each role."""
    return {role: {"X-API-Key": key} for role, key in api_keys().items()}


def principal_id(role: str) -> str:
    """Who a role's development key signs in as: mgr-chen, sp-liu, D-GZ-001, RM-SOUTH-01, …"""
    entry = _entries()[role]
    return entry.get("id") or entry.get("dealer_code") or entry.get("manager_id") or role


def mobile_phone() -> str:
    """A mainland mobile number no other test uses (so one test's open cases are its own)."""
    return f"139{random.randrange(10**8):08d}"


def serial_no(prefix: str = "XF250") -> str:
    """A unit serial of the model whose serial prefix is `prefix` (XF250 → YD-XF250), never seen before."""
    return f"{prefix}{random.randrange(10**8):08d}"


def idempotency_key() -> str:
    return f"t-{uuid.uuid4().hex}"
