"""The case number: issued by intake, accepted in the same one shape by every service and event."""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import StringConstraints

# Crockford base32 without I, L, O, U: unambiguous when a customer reads a case number aloud.
CASE_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CASE_ID_PATTERN = r"^YD-[0-9A-HJKMNP-TV-Z]{10}$"
CASE_ID_RE = re.compile(CASE_ID_PATTERN)

# A pydantic type: in a payload model, a request body or (inside Annotated with Path) a URL.
CaseId = Annotated[str, StringConstraints(pattern=CASE_ID_PATTERN)]


def new_case_id() -> str:
    """YD- and 10 random characters (50 bits): collision-free for decades of complaints."""
    bits = int.from_bytes(secrets.token_bytes(7)) >> 6  # 56 random bits, keep 50
    return "YD-" + "".join(CASE_ID_ALPHABET[(bits >> shift) & 31] for shift in range(45, -1, -5))


def is_case_id(value: str) -> bool:
    return CASE_ID_RE.fullmatch(value) is not None
