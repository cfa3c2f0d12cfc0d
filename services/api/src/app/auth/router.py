"""`/auth/login` and `/auth/callback`: connect a Spotify account in the browser."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from app.admin.auth import AdminAuthProvider
from app.auth.service import OAuthService, SpotifyNotConfiguredError, UnknownUserError
from app.auth.state import InvalidStateError
from app.auth.tool_tokens import ToolTokenVerifier
from app.dependencies import DbSession, WriteSession
from app.errors import (
    AppError,
    AuthenticationError,
    ErrorEnvelope,
    NotFoundError,
    PermissionDeniedError,
)
from app.params import UserIdQuery
from app.settings import AppSettings
from app.setup.steps import spotify_setup_steps
from shared.spotify import SpotifyError, SpotifyInvalidGrantError

logger = logging.getLogger(__name__)

NONCE_COOKIE = "spotify_login_nonce"


class LogoutResult(BaseModel):
    """The user whose tokens were deleted, and its new status."""

    user_id: int
    status: str


class AuthRouter:
    """The OAuth routes; pages are HTML because a person is looking at them."""

    def __init__(
        self,
        oauth: OAuthService,
        templates: Jinja2Templates,
        settings: AppSettings,
        admin_auth: AdminAuthProvider,
    ) -> None:
        self._oauth = oauth
        self._templates = templates
        self._settings = settings
        self._admin_auth = admin_auth
        self._tool_tokens = ToolTokenVerifier()
        self.router = APIRouter(prefix="/auth", tags=["auth"])
        self.router.add_api_route(
            "/login", self.login, methods=["GET"], response_class=RedirectResponse, status_code=303
        )
        self.router.add_api_route(
            "/callback", self.callback, methods=["GET"], response_class=HTMLResponse
        )
        self.router.add_api_route(
            "/logout",
            self.logout,
            methods=["POST"],
            response_model=LogoutResult,
            responses={401: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}},
        )

    def _page(
        self,
        request: Request,
        status_code: int,
        title: str,
        message: str,
        *details: str,
        ok: bool = False,
        retry: bool = True,
    ) -> HTMLResponse:
        response = self._templates.TemplateResponse(
            request,
            "message.html",
            {
                "title": title,
                "message": message,
                "details": details,
                "ok": ok,
                "retry_url": "/auth/login" if retry else None,
                "frontend_url": self._settings.frontend_base_url,
            },
            status_code=status_code,
        )
        response.delete_cookie(NONCE_COOKIE, path="/auth")
        return response

    def _not_configured(self, request: Request) -> HTMLResponse:
        return self._templates.TemplateResponse(
            request,
            "setup.html",
            {
                "title": "Spotify is not configured",
                "spotify_configured": False,
                "setup_steps": spotify_setup_steps(self._settings.spotify.spotify_redirect_uri),
                "frontend_url": self._settings.frontend_base_url,
            },
            status_code=503,
        )

    async def login(self, request: Request, session: WriteSession) -> Response:
        """Issue a single-use state, bind it to this browser by cookie, redirect to Spotify."""
        try:
            start = await self._oauth.start_login(session)
        except SpotifyNotConfiguredError:
            return self._not_configured(request)
        response = RedirectResponse(start.authorize_url, status_code=303)
        response.set_cookie(
            NONCE_COOKIE,
            start.nonce,
            max_age=self._oauth.state_ttl_seconds,
            path="/auth",
            httponly=True,
            samesite="lax",
            secure=self._settings.public_base_url.startswith("https://"),
        )
        return response

    async def callback(
        self,
        request: Request,
        session: WriteSession,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
        nonce: Annotated[str | None, Cookie(alias=NONCE_COOKIE)] = None,
    ) -> Response:
        """Finish the login and say what happens next, or say clearly what went wrong."""
        if error is not None:
            if error == "access_denied":
                return self._page(
                    request,
                    400,
                    "Access declined",
                    "You chose not to connect your Spotify account. Nothing was stored.",
                )
            return self._page(
                request, 400, "Spotify reported an error", f"Spotify said: {error[:100]}."
            )
        if not code:
            return self._page(request, 400, "Missing code", "Spotify sent no authorisation code.")
        try:
            await self._oauth.redeem_state(session, state=state, cookie_nonce=nonce)
            # Commit the redeemed state now: the Spotify calls below take seconds and must
            # not hold the database's write lock (SQLite has only one).
            await session.commit()
            tokens, profile = await self._oauth.fetch_account(code)
            connected = await self._oauth.store_account(session, tokens, profile)
        except SpotifyNotConfiguredError:
            return self._not_configured(request)
        except InvalidStateError as exc:
            return self._page(request, 400, "This login link is not valid", str(exc))
        except SpotifyInvalidGrantError:
            return self._page(
                request,
                400,
                "The authorisation code was refused",
                "Spotify did not accept the code (it expires after a few minutes and works once).",
            )
        except SpotifyError as exc:
            logger.warning("Spotify login failed: %s", exc.__class__.__name__)
            return self._page(
                request,
                502,
                "Spotify could not be reached",
                "Spotify did not complete the login. Try again in a minute.",
            )
        logger.info(
            "Spotify account connected",
            extra={"user_id": connected.user_id, "new_user": connected.was_new},
        )
        return self._page(
            request,
            200,
            f"Connected: {connected.display_name}",
            "Your Spotify account is connected and its tokens are stored encrypted. Spotify "
            "only remembers your last 50 plays, so older history comes from your privacy "
            "export.",
            "To add years of history, request your Extended streaming history at Spotify's "
            "privacy page and upload the ZIP in the admin UI.",
            ok=True,
            retry=False,
        )

    async def logout(
        self,
        request: Request,
        session: DbSession,
        user_id: UserIdQuery = None,
    ) -> LogoutResult:
        """Delete a user's stored Spotify tokens and pause collection for them.

        `user_id` names the user; a user's own tool token may leave it out. Allowed with
        the admin credentials (name the user) or with that user's own tool token. Logging
        in again through /auth/login makes the user active again.
        """
        target = await self._logout_target(request, session, user_id)
        try:
            user = await self._oauth.log_out(session, target)
        except UnknownUserError as exc:
            raise NotFoundError(str(exc)) from exc
        logger.info("user logged out", extra={"user_id": user.id})
        return LogoutResult(user_id=user.id, status=user.status.value)

    async def _logout_target(
        self, request: Request, session: DbSession, user_id: int | None
    ) -> int:
        header = request.headers.get("authorization")
        if self._admin_auth.authenticate(header) is not None:
            if user_id is None:
                raise AppError("Name the user to log out with ?user_id=.", code="user_required")
            return user_id
        scheme, _, token = (header or "").partition(" ")
        row = (
            await self._tool_tokens.verify(session, token.strip())
            if scheme.lower() == "bearer"
            else None
        )
        if row is None:
            raise AuthenticationError(
                "Admin credentials or a tool token are required.",
                headers={"WWW-Authenticate": 'Bearer realm="spotify-mcp"'},
            )
        if row.user_id is None:  # an admin-wide tool token
            if user_id is None:
                raise AppError("Name the user to log out with ?user_id=.", code="user_required")
            return user_id
        if user_id is not None and user_id != row.user_id:
            raise PermissionDeniedError("A user token can only log out its own user.")
        return row.user_id
