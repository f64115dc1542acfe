"""The console's web app: sign-in, the pages of every role, the live stream; /healthz, /readyz and
/metrics come from the shared service app."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from console import access, bootstrap
from console.config import ConsoleSettings
from console.entrypoints import attachments, cases, office, projects, quality, remedies, stats, units
from console.entrypoints.web import (
    HERE,
    NeedSignIn,
    NotForYou,
    console_of,
    current_user,
    form_of,
    render,
    sign_in_redirect,
)
from console.session import COOKIE, LANG_COOKIE, sign, user_for
from shared.attachments import MAX_BYTES, UPLOAD_OVERHEAD_BYTES
from shared.logging import get_logger
from shared.service import service_app

log = get_logger(__name__)

pages = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no //) may follow a sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@pages.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    user = current_user(request)
    return RedirectResponse(access.home(user.role) if user else "/signin", status_code=303)


@pages.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> Response:
    return render(
        request,
        "signin.html",
        {
            "next": _safe_next(request.query_params.get("next")) or "",
            "dev_keys": console_of(request).dev_keys,
        },
    )


@pages.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    c = console_of(request)
    form = await form_of(request)
    key = form.get("api_key", "")
    user = user_for(key, request.app.state.credentials)
    if user is None:
        # Nothing about the key is logged or echoed back.
        return render(
            request,
            "signin.html",
            {"next": _safe_next(form.get("next")) or "", "dev_keys": c.dev_keys, "error": True},
            status=401,
        )
    log.info("signed in", role=user.role, principal=user.id)
    response = RedirectResponse(_safe_next(form.get("next")) or access.home(user.role), status_code=303)
    response.set_cookie(
        COOKIE,
        sign(key, c.settings.session_secret),
        max_age=int(c.settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=c.settings.secure_cookies,
        path="/",
    )
    return response


@pages.post("/signout")
async def signout(request: Request) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@pages.get("/lang/{lang}")
async def set_lang(request: Request, lang: Literal["zh", "en"]) -> Response:
    """The language toggle without scripts (with scripts it flips in place and sets the same cookie)."""
    response = RedirectResponse(_safe_next(request.query_params.get("next")) or "/", status_code=303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", path="/")
    return response


class SameOriginPosts:
    """Refuse a state-changing request whose Origin is another site (SameSite cookies are the first
    guard; this is the second), and send the pages' security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get(b"origin", b"").decode()
            host = headers.get(b"host", b"").decode()
            if origin and (origin == "null" or urlsplit(origin).netloc != host):
                response = Response("cross-site request refused", status_code=403)
                await response(scope, receive, send)
                return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    app = service_app(
        settings,
        title="英德售后 · Console",
        description=(
            "The pages the after-sales staff, dealers, regional managers and customers work in. The console adds "
            "none of the services' rules: it calls their public APIs with the signed-in user's own key and shows "
            "each case's events as they happen (Kafka → server-sent events)."
        ),
        routers=[
            pages,
            cases.router,
            remedies.router,
            attachments.router,
            stats.router,
            quality.router,
            office.router,
            projects.router,
            units.router,
        ],
        wire=bootstrap.wire,
        runtime_factory=bootstrap.runtime_factory,
        # The forms that carry a file (a photo from a phone's camera, a PDF).
        uploads=(attachments.UPLOAD_PATHS, 2 * MAX_BYTES + UPLOAD_OVERHEAD_BYTES),
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(SameOriginPosts)

    @app.exception_handler(NeedSignIn)
    async def _need_sign_in(request: Request, _exc: Exception) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(NotForYou)
    async def _not_for_you(request: Request, _exc: Exception) -> Response:
        return render(request, "forbidden.html", status=403)

    return app
