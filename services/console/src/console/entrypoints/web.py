"""What every page shares: the signed-in user, rendering with the user's language, form bodies,
flash messages after a redirect, and turning a service's refusal into words for the user."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from console import access, labels
from console.adapters.services import Api
from console.bootstrap import Console
from console.session import (
    COOKIE,
    FLASH_COOKIE,
    LANG_COOKIE,
    User,
    decode_flash,
    encode_flash,
    unsign,
    user_for,
)
from shared.attachments import MAX_BYTES
from shared.periods import CHINA, china_today

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
# Scripts only from our own static folder; no inline script; the charts are inline SVG.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


# ------------------------------------------------------------------------------------ template helpers


def t(zh: str, en: str) -> Markup:
    """Chinese first; the English behind the toggle (both are in the page, CSS shows one)."""
    return Markup('<span class="zh">{}</span><span class="en" lang="en">{}</span>').format(zh, en)


def lbl(table: str, code: Any) -> Markup:
    zh, en = labels.pair(table, code)
    return t(zh, en)


def both(table: str, code: Any) -> str:
    """'中文 / English' in one string, for places that cannot hold markup (options, titles)."""
    zh, en = labels.pair(table, code)
    return zh if zh == en else f"{zh} / {en}"


def when(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp from a service, in China time."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime(fmt if "T" in str(value) or " " in str(value) else "%Y-%m-%d")
    return moment.astimezone(CHINA).strftime(fmt)


def today_china() -> str:
    return china_today().isoformat()


def now_china_local() -> str:
    return datetime.now(UTC).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def filesize(n: Any) -> str:
    """Bytes for people: 812 B, 45.3 KB, 2.4 MB."""
    try:
        size = int(n)
    except (TypeError, ValueError):
        return "—"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


TEMPLATES.env.globals.update(
    t=t, lbl=lbl, both=both, labels=labels, access=access, today=today_china, max_upload_bytes=MAX_BYTES
)
TEMPLATES.env.filters.update(when=when, filesize=filesize)


# ------------------------------------------------------------------------------------ the user


class NeedSignIn(Exception):
    """No valid sign-in cookie: the page redirects to the sign-in form and back."""


class NotForYou(Exception):
    """Signed in, but this page is for other roles."""


def console_of(request: Request) -> Console:
    return request.app.state.runtime.components["console"]


def current_user(request: Request) -> User | None:
    c = console_of(request)
    key = unsign(
        request.cookies.get(COOKIE), c.settings.session_secret, max_age_s=c.settings.session_hours * 3600
    )
    return user_for(key, request.app.state.credentials)


def require(request: Request, roles: Iterable[str] | None = None) -> User:
    user = current_user(request)
    if user is None:
        raise NeedSignIn
    if roles is not None and user.role not in set(roles):
        raise NotForYou
    return user


# ------------------------------------------------------------------------------------ forms


async def form_of(request: Request) -> dict[str, str]:
    """An url-encoded form body (the console's forms post no files). Repeated names: the last wins."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v.strip() for k, v in parse_qsl(body, keep_blank_values=True)}


async def form_lists(request: Request) -> dict[str, list[str]]:
    body = (await request.body()).decode("utf-8", errors="replace")
    out: dict[str, list[str]] = {}
    for k, v in parse_qsl(body, keep_blank_values=True):
        out.setdefault(k, []).append(v.strip())
    return out


@dataclass(frozen=True)
class Upload:
    """A multipart form as the browser sent it: its fields and its one file (None when none was chosen)."""

    fields: dict[str, str]
    filename: str = ""
    content: bytes = b""
    content_type: str = "application/octet-stream"
    chosen: bool = False

    @property
    def too_big(self) -> bool:
        return len(self.content) > MAX_BYTES

    def files(self, name: str) -> dict[str, tuple[str, bytes, str]]:
        """The file as it goes on to the service (which decides its type from the bytes, not from this)."""
        return {name: (self.filename or "upload", self.content, self.content_type)}


async def upload_of(request: Request, file_field: str = "file") -> Upload:
    """A form that carries a file (multipart). More than the limit is read only up to the limit plus one
    byte, so the page can say the file is too large without forwarding it."""
    fields: dict[str, str] = {}
    found: tuple[str, bytes, str] | None = None
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception:  # a body that is not a form (or a part over Starlette's own limits)
        return Upload(fields)
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields[name] = value.strip()
        elif name == file_field and value.filename:
            content = await value.read(MAX_BYTES + 1)
            found = (value.filename, content, value.content_type or "application/octet-stream")
    await form.close()
    if found is None:
        return Upload(fields)
    return Upload(fields, found[0], found[1], found[2], chosen=True)


def new_key(prefix: str) -> str:
    """An Idempotency-Key for one rendered form: a double submit or a retry makes nothing twice."""
    return f"{prefix}-{uuid.uuid4().hex}"


# ------------------------------------------------------------------------------------ responses


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    user: User | None = None,
) -> HTMLResponse:
    c = console_of(request)
    user = user if user is not None else current_user(request)
    flash = decode_flash(request.cookies.get(FLASH_COOKIE))
    ctx = {
        "user": user,
        "nav": access.NAV.get(user.role, ()) if user else (),
        "lang": "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh",
        "flash": flash,
        "path": request.url.path,
        "app_env": c.settings.app_env,
        "sees_prices": bool(user and access.sees_prices(user.role)),
    } | (context or {})
    response = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    return response


def redirect(
    url: str,
    *,
    flash: tuple[str, str] | None = None,
    items: list[dict[str, str]] | None = None,
    status: int = 303,
) -> RedirectResponse:
    response = RedirectResponse(url, status_code=status)
    if flash is not None:
        response.set_cookie(
            FLASH_COOKIE,
            encode_flash(flash[0], flash[1], items),
            path="/",
            httponly=True,
            samesite="strict",
            max_age=60,
        )
    return response


def after(api: Api, url: str, ok_zh: str, ok_en: str) -> RedirectResponse:
    """Back to the page the form was on, saying what happened (or what the service refused)."""
    if api.ok:
        return redirect(url, flash=("ok", f"{ok_zh} / {ok_en}"))
    message, items = problem(api)
    return redirect(url, flash=("error", message), items=items)


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


# ------------------------------------------------------------------------------------ refusals


_STATUS_WORDS = {
    401: ("登录已失效，请重新登录", "your key is not accepted; sign in again"),
    403: ("您的角色不能执行此操作", "your role may not do this"),
    404: ("未找到", "not found"),
    409: ("当前状态不允许此操作", "not allowed in the current state"),
    413: ("内容过长", "too large"),
    422: ("填写有误", "please check the form"),
    429: ("操作过于频繁，请稍后再试", "too many requests; try again shortly"),
    503: ("服务暂时不可用，请稍后再试", "a service is unavailable; try again shortly"),
}


# A refused upload in plain words, Chinese then English (the service's own text follows for staff).
UPLOAD_WORDS = {
    "none": ("请选择要上传的照片或 PDF 文件", "choose a photo or a PDF file to upload"),
    413: (
        f"文件太大：每个文件不能超过 {MAX_BYTES // (1024 * 1024)} MB，请压缩或重新拍摄后再试",
        f"the file is too large: at most {MAX_BYTES // (1024 * 1024)} MB per file; shrink it or take the photo again",
    ),
    415: (
        "不支持此文件类型：只接受照片（JPEG、PNG、HEIC）或 PDF 文件（按文件内容判断，不看文件名）",
        "this kind of file is not accepted: only photos (JPEG, PNG, HEIC) or PDF files (judged by the content, "
        "not the name)",
    ),
}


def upload_refusal(status: int | str) -> tuple[str, str]:
    return UPLOAD_WORDS.get(status, ("上传未成功", "the upload did not go through"))


def problem(api: Api) -> tuple[str, list[dict[str, str]]]:
    """A service's refusal as one line and, where it gave them, the items (what is missing, which field)."""
    zh, en = _STATUS_WORDS.get(api.status, ("操作未成功", "not done"))
    head = f"{zh} / {en} ({api.status})"
    # Every service answers a refusal as a Problem: `detail`, the fields at fault in `errors`, and
    # context such as what a gate still misses or the case's current status.
    data = api.data if isinstance(api.data, dict) else {}
    detail = api.detail
    items: list[dict[str, str]] = []
    message = detail if isinstance(detail, str) else ""
    for m in data.get("missing", []) or []:
        items.append({"zh": str(m.get("zh", "")), "en": str(m.get("en", "")), "item": str(m.get("item", ""))})
    if "current_status" in data:
        message += f" [{data['current_status']}]"
    if isinstance(data.get("errors"), list):
        for e in data["errors"][:10]:
            items.append(
                {"zh": f"{e.get('field')}: {e.get('message')}", "en": "", "item": str(e.get("field", ""))}
            )
    return (f"{head}: {message}" if message else head), items
