"""Browser hardening headers on every response, error pages included."""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.middleware.proxies import TrustedProxies

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # The legacy XSS auditor could itself be abused to leak data; "0" turns it off.
    "X-XSS-Protection": "0",
}
# The API's own pages are server-rendered with one inline <style> and no scripts.
PAGE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc load their bundles from jsDelivr and start them with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware:
    """Adds the headers to each response; a header a route set itself is left alone."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        proxies: TrustedProxies,
        always_https: bool,
        docs_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self._proxies = proxies
        self._always_https = always_https
        self._docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on and decorate the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self._always_https or self._proxies.is_https(scope)
        csp = DOCS_CSP if scope["path"] in self._docs_paths else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", csp)
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
