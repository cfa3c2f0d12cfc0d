"""`AdminPages`: what every router needs: templates, the API as the logged-in admin, notices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from frontend.api_client import AdminApiClient, ApiAuthenticationError
from frontend.assets import CHART_JS, HTMX_JS, StaticAssets
from frontend.formatting import install_filters
from frontend.security.csrf import CSRF_FIELD, CSRF_HEADER
from frontend.security.middleware import SessionSlot
from frontend.security.sessions import AdminSession, SessionCodec


class AdminPages:
    """Renders pages and partials with the common context, and gives routes their API client."""

    def __init__(
        self,
        templates: Jinja2Templates,
        api: AdminApiClient,
        codec: SessionCodec,
        assets: StaticAssets,
    ) -> None:
        self.templates = templates
        self.codec = codec
        self._api = api
        install_filters(templates.env)
        templates.env.globals.update(
            static_url=assets.url,
            htmx_js=HTMX_JS,
            chart_js=CHART_JS,
            csrf_field=CSRF_FIELD,
            csrf_header=CSRF_HEADER,
        )

    @property
    def api(self) -> AdminApiClient:
        """The API without credentials: only for its public status."""
        return self._api

    @staticmethod
    def slot(request: Request) -> SessionSlot:
        """The request's session slot (the session middleware always sets one)."""
        slot: SessionSlot = request.state.session_slot
        return slot

    def session(self, request: Request) -> AdminSession | None:
        """The request's session, logged in or not."""
        return self.slot(request).session

    def api_for(self, request: Request) -> AdminApiClient:
        """The API client acting with the logged-in admin's credentials."""
        session = self.session(request)
        sealed = session.sealed_credentials if session is not None else None
        credentials = self.codec.unseal(sealed) if sealed is not None else None
        if credentials is None:
            raise ApiAuthenticationError(401, "session", "the session holds no usable login")
        client = request.client.host if request.client is not None else None
        return self._api.acting_for(credentials, client_address=client)

    @staticmethod
    def is_htmx(request: Request) -> bool:
        """True for a request made by htmx (it wants a fragment, not a page)."""
        return request.headers.get("hx-request") == "true"

    def flash(self, request: Request, level: str, text: str) -> None:
        """Queue a notice ("ok" or "error") for the next full page."""
        session = self.session(request)
        if session is not None:
            session.flash(level, text)

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """A full page: the layout with navigation, notices and the CSRF token."""
        session = self.session(request)
        values = {
            "csrf_token": session.csrf_token if session is not None else "",
            "username": session.username if session is not None else None,
            "flashes": session.pop_flashes() if session is not None else [],
            **(context or {}),
        }
        return self.templates.TemplateResponse(
            request, template, values, status_code=status_code, headers=dict(headers or {})
        )

    def partial(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """A fragment for htmx to swap in; notices stay queued for the next full page."""
        session = self.session(request)
        values = {
            "csrf_token": session.csrf_token if session is not None else "",
            **(context or {}),
        }
        return self.templates.TemplateResponse(
            request, template, values, status_code=status_code, headers=dict(headers or {})
        )

    @staticmethod
    def redirect(url: str) -> RedirectResponse:
        """See Other: after a POST, the browser GETs `url`."""
        return RedirectResponse(url, status_code=303)
