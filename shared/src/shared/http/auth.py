"""API keys mapped to principals (channel or staff role), loaded once at start-up.

The key file has the shape of deploy/local/dev-credentials.json:
  {"hotline": {"api_key"}, "regional_manager": {"api_key", "manager_id"},
   "dealer": {"api_key", "dealer_code"}, "staff": {"<role>": {"api_key", "id"}}}
where each channel entry may also be a list of such objects (several dealers, several managers).
Development keys are marked as such and refused outside development and test.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from shared.config import ServiceSettings
from shared.roles import STAFF_ROLES

_PLACEHOLDER = re.compile(r"^dev-|change-?me|placeholder|example|^test-", re.IGNORECASE)


class CredentialsError(RuntimeError):
    """The key configuration is unusable (missing, malformed, or a placeholder in production)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a channel (hotline, regional_manager, dealer) or a staff role."""

    role: str
    id: str
    dealer_code: str | None = None
    manager_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class Credentials:
    def __init__(self, by_digest: dict[str, Principal]) -> None:
        self._by_digest = by_digest

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def lookup(self, api_key: str | None) -> Principal | None:
        if not api_key:
            return None
        return self._by_digest.get(self._digest(api_key))

    def principals(self) -> list[Principal]:
        return list(self._by_digest.values())

    @classmethod
    def parse(cls, data: dict[str, Any], *, allow_placeholders: bool) -> Credentials:
        entries: list[tuple[str, Principal]] = []

        def items(value: Any) -> list[dict[str, Any]]:
            return value if isinstance(value, list) else [value] if value else []

        try:
            for e in items(data.get("hotline")):
                entries.append((e["api_key"], Principal("hotline", e.get("id", "hotline"))))
            for e in items(data.get("regional_manager")):
                entries.append(
                    (e["api_key"], Principal("regional_manager", e["manager_id"], manager_id=e["manager_id"]))
                )
            for e in items(data.get("dealer")):
                entries.append(
                    (e["api_key"], Principal("dealer", e["dealer_code"], dealer_code=e["dealer_code"]))
                )
            for role, value in (data.get("staff") or {}).items():
                if role not in STAFF_ROLES:
                    raise CredentialsError(f"unknown staff role {role!r} (known: {', '.join(STAFF_ROLES)})")
                for e in items(value):
                    entries.append((e["api_key"], Principal(role, e["id"])))
        except (KeyError, TypeError) as exc:
            raise CredentialsError(f"malformed credentials: missing {exc}") from exc
        by_digest: dict[str, Principal] = {}
        for key, principal in entries:
            if not allow_placeholders and _PLACEHOLDER.search(key):
                raise CredentialsError(
                    f"the {principal.role} key of {principal.id} is a development placeholder; "
                    "set real keys outside development"
                )
            if len(key) < 16:
                raise CredentialsError(
                    f"the {principal.role} key of {principal.id} is shorter than 16 characters"
                )
            by_digest[cls._digest(key)] = principal
        return cls(by_digest)


def load_credentials(settings: ServiceSettings) -> Credentials:
    allow = settings.app_env in ("development", "test")
    if settings.credentials_json:
        return Credentials.parse(json.loads(settings.credentials_json), allow_placeholders=allow)
    if settings.credentials_file:
        path = Path(settings.credentials_file)
        if not path.is_file():
            raise CredentialsError(f"credentials file {path} does not exist")
        return Credentials.parse(json.loads(path.read_text(encoding="utf-8")), allow_placeholders=allow)
    if allow:
        return Credentials({})
    raise CredentialsError("no credentials configured: set CREDENTIALS_FILE or CREDENTIALS_JSON")


api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The caller's API key.")


def authorize(request: Request, api_key: str | None, roles: tuple[str, ...]) -> Principal:
    """The caller behind `api_key` if it holds one of `roles`: 401 without a valid key, 403 otherwise."""
    credentials: Credentials = request.app.state.credentials
    principal = credentials.lookup(api_key)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing X-API-Key" if api_key is None else "unknown X-API-Key",
            headers={"WWW-Authenticate": "APIKey"},
        )
    if roles and principal.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {principal.role!r} may not do this (allowed: {', '.join(roles)})",
        )
    return principal


def require_roles(*roles: str) -> Any:
    """A dependency admitting only the given roles (any authenticated caller when none are given)."""

    # Async on purpose: FastAPI runs sync dependencies in a thread pool, a cost on every request.
    async def dependency(
        request: Request, api_key: Annotated[str | None, Depends(api_key_header)]
    ) -> Principal:
        return authorize(request, api_key, roles)

    return Depends(dependency)
