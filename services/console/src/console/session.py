"""The sign-in cookie: the user's API key, signed (HMAC-SHA256) with the console's secret and a time.

The key is what every service checks, so the console keeps nothing of its own about a user: the
role comes from the same credentials the services load (shared.http.auth.load_credentials). The
cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's form can use it) and
Secure in production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from shared.http.auth import Credentials, Principal

COOKIE = "yd_console"
FLASH_COOKIE = "yd_flash"
LANG_COOKIE = "yd_lang"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, message: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def sign(key: str, secret: str, *, now: float | None = None) -> str:
    body = f"{_b64(key.encode())}.{int(now if now is not None else time.time())}"
    return f"{body}.{_mac(secret, body)}"


def unsign(value: str | None, secret: str, *, max_age_s: float, now: float | None = None) -> str | None:
    """The key in a cookie we signed, unless it was altered or has expired."""
    if not value or value.count(".") != 2:
        return None
    encoded, issued, mac = value.split(".")
    if not hmac.compare_digest(mac, _mac(secret, f"{encoded}.{issued}")):
        return None
    try:
        age = (now if now is not None else time.time()) - int(issued)
        key = _unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if age < 0 or age > max_age_s:
        return None
    return key


@dataclass(frozen=True)
class User:
    """Who is signed in: the principal the services will see, and the key to show them."""

    principal: Principal
    key: str

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def id(self) -> str:
        return self.principal.id

    @property
    def is_channel(self) -> bool:
        return self.role in ("dealer", "regional_manager")


def user_for(key: str | None, credentials: Credentials) -> User | None:
    principal = credentials.lookup(key)
    return User(principal, key) if principal and key else None


def encode_flash(kind: str, message: str, items: list[dict[str, str]] | None = None) -> str:
    payload = {"kind": kind, "message": message[:600], "items": (items or [])[:12]}
    return _b64(json.dumps(payload, ensure_ascii=False).encode())


def decode_flash(value: str | None) -> dict | None:
    if not value:
        return None
    try:
        data = json.loads(_unb64(value))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and "message" in data else None
