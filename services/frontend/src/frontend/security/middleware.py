"""ASGI middleware of the admin UI: the session gate, security headers and server timing."""

from __future__ import annotations

import time
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontend.security.sessions import (
    SESSION_COOKIE,
    AdminSession,
    SessionCodec,
    SessionRevocations,
)
from frontend.timing import ApiWaitTimer

PUBLIC_PATHS = frozenset({"/login", "/healthz"})
PUBLIC_PREFIXES = ("/static/",)
LOGIN_PATH = "/login"

# Every script is a vendored or project file under /static; no inline script, no eval, no
# inline style (the templates use classes, the charts draw through the CSSOM).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-XSS-Protection": "0",
}
HSTS = "max-age=31536000"


def is_public(path: str) -> bool:
    """True for the few paths reachable without a session: login, health, static files."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def safe_next(target: str | None) -> str:
    """A local path to return to after the login; anything else becomes the dashboard."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or is_public(parts.path):
        return "/"
    return target


class SessionSlot:
    """The request's session as the routes see it (`request.state.session_slot`)."""

    def __init__(self, session: AdminSession | None) -> None:
        self.session = session
        self.ended = False

    def start(self, session: AdminSession) -> None:
        """Put a new session in place (after a login, or for the login form)."""
        session.changed = True
        self.session = session
        self.ended = False

    def end(self) -> None:
        """Forget the session and delete the browser's cookie."""
        self.session = None
        self.ended = True


class SessionMiddleware:
    """Reads the session cookie, refuses every non-public path without a login, writes back.

    A page without a session is a 303 to the login; an htmx request gets 401 with
    `HX-Redirect`, so htmx moves the whole page there instead of swapping a login form into
    a fragment.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        codec: SessionCodec,
        revocations: SessionRevocations,
        always_secure: bool,
    ) -> None:
        self.app = app
        self._codec = codec
        self._revocations = revocations
        self._always_secure = always_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Gate the request on its session; add Set-Cookie when the session changed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        cookie = connection.cookies.get(SESSION_COOKIE)
        session = self._codec.decode(cookie) if cookie else None
        if session is not None and self._revocations.is_revoked(session.sid):
            session = None
        slot = SessionSlot(session)
        if cookie and session is None:
            slot.ended = True  # forged, expired or logged out: drop the cookie
        if not is_public(scope["path"]) and (session is None or not session.authenticated):
            response = self._to_login(connection)
            self._write_cookie(response.headers, slot, scope)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["session_slot"] = slot

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._write_cookie(MutableHeaders(scope=message), slot, scope)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _write_cookie(self, headers: MutableHeaders, slot: SessionSlot, scope: Scope) -> None:
        secure = "; Secure" if self._always_secure or scope.get("scheme") == "https" else ""
        if slot.session is not None and slot.session.changed:
            value = self._codec.encode(slot.session)
            headers.append(
                "set-cookie",
                f"{SESSION_COOKIE}={value}; Path=/; Max-Age={self._codec.max_age_seconds}; "
                f"HttpOnly; SameSite=Lax{secure}",
            )
            slot.session.changed = False
        elif slot.ended:
            headers.append(
                "set-cookie",
                f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}",
            )

    @staticmethod
    def _to_login(connection: HTTPConnection) -> Response:
        if connection.headers.get("hx-request") == "true":
            current = urlsplit(connection.headers.get("hx-current-url", ""))
            back = current.path + (f"?{current.query}" if current.query else "")
            location = LOGIN_PATH + _next_query(back)
            return Response(status_code=401, headers={"HX-Redirect": location})
        back = ""
        if connection.scope["method"] in {"GET", "HEAD"}:
            query = connection.scope.get("query_string", b"").decode("latin-1")
            back = connection.url.path + (f"?{query}" if query else "")
        return RedirectResponse(LOGIN_PATH + _next_query(back), status_code=303)


def _next_query(back: str) -> str:
    target = safe_next(back)
    return "" if target == "/" else "?next=" + quote(target, safe="/")


class SecurityHeadersMiddleware:
    """CSP and browser hardening on every response; pages are never cached."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self._https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Decorate the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                # Static files set their own caching; everything else is the admin's data.
                headers.setdefault("Cache-Control", "no-store")
                if self._https or scope.get("scheme") == "https":
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ServerTimingMiddleware:
    """`Server-Timing: app;dur=<ms>, api;dur=<ms>`: the UI's time, and the part spent on the API.

    app is everything up to the response's start, API calls included; api is how long at
    least one API call was in flight.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request up to the start of its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        token = ApiWaitTimer.start()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - started) * 1000
                MutableHeaders(scope=message).append(
                    "Server-Timing",
                    f"app;dur={elapsed_ms:.1f}, api;dur={ApiWaitTimer.waited_ms():.1f}",
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            ApiWaitTimer.stop(token)
