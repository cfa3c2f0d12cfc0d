"""`/login` and `/logout`: the admin's credentials are checked by the API itself."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr

from frontend.api_client import AdminCredentials, ApiError, ApiUnavailableError
from frontend.pages import AdminPages
from frontend.security.middleware import safe_next
from frontend.security.sessions import AdminSession, SessionRevocations
from frontend.security.throttle import LoginThrottle

logger = logging.getLogger(__name__)

MAX_USERNAME_LENGTH = 255
MAX_PASSWORD_LENGTH = 1024


class AuthRouter:
    """The login form, its check against the API, and the logout."""

    def __init__(
        self, pages: AdminPages, revocations: SessionRevocations, throttle: LoginThrottle
    ) -> None:
        self._pages = pages
        self._revocations = revocations
        self._throttle = throttle
        self.router = APIRouter()
        self.router.add_api_route(
            "/login", self.login_form, methods=["GET"], response_class=HTMLResponse
        )
        self.router.add_api_route("/login", self.login, methods=["POST"], response_model=None)
        self.router.add_api_route("/logout", self.logout, methods=["POST"], response_model=None)

    async def login_form(self, request: Request, next: str | None = None) -> Response:
        """The login page; a logged-in admin goes straight on."""
        session = self._pages.session(request)
        if session is not None and session.authenticated:
            return RedirectResponse(safe_next(next), status_code=303)
        if session is None:
            self._pages.slot(request).start(AdminSession.anonymous())
        return await self._form(request, next)

    async def login(
        self,
        request: Request,
        username: Annotated[str, Form(max_length=MAX_USERNAME_LENGTH)] = "",
        password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        """Check the credentials by calling the API with them; on success start a session."""
        address = request.client.host if request.client is not None else "unknown"
        wait = self._throttle.retry_after(address)
        if wait is not None:
            return await self._form(
                request,
                next,
                error=f"Too many failed logins: try again in {int(wait) + 1} s.",
                status_code=429,
            )
        username = username.strip()
        if not username or not password:
            return await self._form(
                request, next, error="Enter the admin user name and password.", status_code=400
            )
        credentials = AdminCredentials(username, SecretStr(password))
        try:
            accepted = await self._pages.api.verify_credentials(credentials)
        except ApiUnavailableError:
            return await self._form(
                request, next, error="The API is not answering; try again shortly.", status_code=502
            )
        except ApiError as exc:
            message = (
                "Too many failed logins: wait a minute and try again."
                if exc.status_code == 429
                else "The API refused the login."
            )
            return await self._form(request, next, error=message, status_code=exc.status_code)
        if not accepted:
            self._throttle.record_failure(address)
            logger.info("admin login refused")
            return await self._form(
                request, next, error="Wrong user name or password.", status_code=401
            )
        self._throttle.forget(address)
        self._pages.slot(request).start(self._pages.codec.logged_in(credentials))
        logger.info("admin logged in")
        return RedirectResponse(safe_next(next), status_code=303)

    async def logout(self, request: Request) -> Response:
        """End the session (refused from now on, even if replayed) and show the login."""
        session = self._pages.session(request)
        if session is not None and session.authenticated_at is not None:
            until = session.authenticated_at + self._pages.codec.max_age_seconds
            self._revocations.revoke(session.sid, until=until)
        fresh = AdminSession.anonymous()
        fresh.flash("ok", "You are logged out.")
        self._pages.slot(request).start(fresh)
        logger.info("admin logged out")
        return RedirectResponse("/login", status_code=303)

    async def _form(
        self,
        request: Request,
        next_path: str | None,
        *,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        status: dict[str, Any] | None
        try:
            status = await self._pages.api.status()
        except ApiError:
            status = None
        return self._pages.render(
            request,
            "login.html",
            {"error": error, "next": safe_next(next_path), "status": status},
            status_code=status_code,
        )
