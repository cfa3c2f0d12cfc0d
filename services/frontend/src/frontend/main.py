"""`FrontendApp`: the admin UI's application factory; all wiring happens here."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from frontend.api_client import (
    AdminApiClient,
    ApiAuthenticationError,
    ApiError,
    ApiNotFoundError,
    ApiUnavailableError,
)
from frontend.assets import STATIC_PREFIX, CachedStaticFiles, StaticAssets
from frontend.pages import AdminPages
from frontend.routes.analytics import AnalyticsRouter
from frontend.routes.auth import AuthRouter
from frontend.routes.dashboard import DashboardRouter
from frontend.routes.health import HealthRouter
from frontend.routes.imports import ImportsRouter
from frontend.routes.jobs import JobsRouter
from frontend.routes.logs import LogsRouter
from frontend.routes.users import UsersRouter
from frontend.security.csrf import CsrfGuard, CsrfRejectedError
from frontend.security.middleware import (
    SecurityHeadersMiddleware,
    ServerTimingMiddleware,
    SessionMiddleware,
)
from frontend.security.sessions import AdminSession, SessionCodec, SessionRevocations
from frontend.security.throttle import LoginThrottle
from frontend.settings import FrontendSettings
from shared.logging import configure_logging
from shared.runtime import settle_heap

logger = logging.getLogger(__name__)

_TEMPLATES = Path(__file__).parent / "templates"


class FrontendApp:
    """Builds the admin UI: session security, routers, templates, static files, API client."""

    def __init__(self, settings: FrontendSettings, api: AdminApiClient | None = None) -> None:
        self.settings = settings
        self.api = api or AdminApiClient(settings.api_base_url)
        self.codec = SessionCodec(
            self._signing_key(settings), max_age_seconds=settings.frontend_session_max_age_seconds
        )
        self.revocations = SessionRevocations()
        self.login_throttle = LoginThrottle()
        self.assets = StaticAssets()
        self.pages = AdminPages(
            Jinja2Templates(directory=_TEMPLATES), self.api, self.codec, self.assets
        )
        self.app = FastAPI(
            title="Spotify listening history · admin",
            lifespan=self._lifespan,
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
            # Every state-changing request of every route must carry the CSRF token.
            dependencies=[Depends(CsrfGuard())],
        )
        self._setup_routers()
        self._setup_error_pages()
        # Added innermost first: timing wraps everything, the gate runs before any route.
        self.app.add_middleware(
            SessionMiddleware,
            codec=self.codec,
            revocations=self.revocations,
            always_secure=settings.https,
        )
        self.app.add_middleware(SecurityHeadersMiddleware, https=settings.https)
        self.app.add_middleware(ServerTimingMiddleware)

    @staticmethod
    def _signing_key(settings: FrontendSettings) -> SecretStr:
        if settings.secret_key is not None and settings.secret_key.get_secret_value():
            return settings.secret_key
        # Only in dev (production refuses to start without SECRET_KEY): sessions then end
        # when the process restarts, which is all that is lost.
        logger.warning("SECRET_KEY is not set: admin sessions end when the frontend restarts")
        return SecretStr(secrets.token_urlsafe(48))

    def _setup_routers(self) -> None:
        pages = self.pages
        self.app.mount(STATIC_PREFIX, CachedStaticFiles(self.assets), name="static")
        self.app.include_router(HealthRouter().router)
        self.app.include_router(AuthRouter(pages, self.revocations, self.login_throttle).router)
        self.app.include_router(DashboardRouter(pages).router)
        self.app.include_router(UsersRouter(pages).router)
        self.app.include_router(JobsRouter(pages).router)
        self.app.include_router(ImportsRouter(pages).router)
        self.app.include_router(LogsRouter(pages).router)
        self.app.include_router(AnalyticsRouter(pages).router)

    def _setup_error_pages(self) -> None:
        handlers = {
            CsrfRejectedError: self._csrf_rejected,
            ApiAuthenticationError: self._login_no_longer_accepted,
            ApiNotFoundError: self._not_found,
            ApiUnavailableError: self._api_unavailable,
            ApiError: self._api_refused,
            StarletteHTTPException: self._http_error,
            RequestValidationError: self._invalid_request,
        }
        for exception, handler in handlers.items():
            self.app.add_exception_handler(exception, handler)

    def _error_page(self, request: Request, status_code: int, title: str, message: str) -> Response:
        if self.pages.is_htmx(request):
            return self.pages.partial(
                request,
                "partials/error.html",
                {"title": title, "message": message},
                status_code=status_code,
            )
        return self.pages.render(
            request, "error.html", {"title": title, "message": message}, status_code=status_code
        )

    async def _csrf_rejected(self, request: Request, _exc: Exception) -> Response:
        session = self.pages.session(request)
        if session is None or not session.authenticated:
            fresh = AdminSession.anonymous()
            fresh.flash("error", "The login form had expired; please try again.")
            self.pages.slot(request).start(fresh)
            return RedirectResponse("/login", status_code=303)
        return self._error_page(
            request,
            403,
            "Form expired",
            "This form's security token is missing or out of date. Reload the page and try again.",
        )

    async def _login_no_longer_accepted(self, request: Request, _exc: Exception) -> Response:
        fresh = AdminSession.anonymous()
        fresh.flash("error", "The API no longer accepts this login; please log in again.")
        self.pages.slot(request).start(fresh)
        if self.pages.is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, ApiError) else "There is nothing here."
        return self._error_page(request, 404, "Not found", message)

    async def _api_unavailable(self, request: Request, exc: Exception) -> Response:
        detail = exc.message if isinstance(exc, ApiError) else ""
        return self._error_page(
            request, 502, "The API is not answering", f"{detail}. Check that the API is running."
        )

    async def _api_refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return self._error_page(request, exc.status_code, "The API refused this", exc.message)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return self._error_page(request, 404, "Not found", "There is nothing here.")
        return self._error_page(request, exc.status_code, "Request refused", str(exc.detail))

    async def _invalid_request(self, request: Request, _exc: Exception) -> Response:
        return self._error_page(
            request, 400, "Bad request", "Part of this request is malformed; go back and retry."
        )

    @asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        yield
        await self.api.aclose()


def create_app() -> FastAPI:
    """The ASGI app, configured from the environment, logging JSON to stderr."""
    settings = FrontendSettings()
    configure_logging("frontend", settings.log_level)
    app = FrontendApp(settings).app
    settle_heap()
    return app
