"""`SpotifyMCPApp`: the API's application factory; all wiring happens here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from starlette.routing import Route

from app.admin.auth import AdminAuthProvider
from app.admin.router import AdminRouter
from app.admin.service import AdminService
from app.admin.uploads import ArchiveReceiver
from app.auth.router import AuthRouter
from app.auth.service import OAuthService
from app.auth.tool_tokens import ToolTokenService, ToolTokenVerifier
from app.errors import install_error_handlers
from app.health.router import HealthRouter
from app.history.answers import answer_cache
from app.history.router import HistoryRouter
from app.history.service import HistoryService
from app.mcp.auth import ToolCallerResolver
from app.mcp.gpt import GptActionsRouter
from app.mcp.invoker import ToolInvoker
from app.mcp.registry import MCPToolRegistry
from app.mcp.router import MCPRouter
from app.mcp.server import MCPHttpEndpoint, MCPProtocolServer
from app.mcp.tools.history_tools import HistoryToolHandlers
from app.mcp.tools.ops_tools import OpsToolHandlers
from app.mcp.tools.spotify_tools import SpotifyToolHandlers
from app.metrics import Metrics
from app.metrics.router import MetricsRouter
from app.middleware import install_middleware
from app.settings import AppSettings
from app.setup.router import SetupRouter
from shared.crypto import TokenEncryptor
from shared.db.manager import DatabaseManager, SessionSource
from shared.logging import DBLogHandler, configure_logging
from shared.runtime import settle_heap
from shared.spotify import SpotifyClient, SpotifyClientConfig

_TEMPLATES = Path(__file__).parent / "templates"


class SpotifyMCPApp:
    """Builds the API: settings, database, Spotify client, routers and error handling."""

    def __init__(
        self,
        settings: AppSettings,
        *,
        database: DatabaseManager | None = None,
        spotify_transport: httpx.AsyncBaseTransport | None = None,
        log_handler: DBLogHandler | None = None,
        owns_database: bool | None = None,
        tool_sessions: SessionSource | None = None,
    ) -> None:
        self.settings = settings
        self.database = database or DatabaseManager.from_settings(settings.database)
        # Dispose of the engine at shutdown when it was made for this app.
        self._owns_database = database is None if owns_database is None else owns_database
        self._log_handler = log_handler
        # Where tool calls get their units of work (tests pass their rolled-back transaction).
        self._tool_sessions: SessionSource = tool_sessions or self.database
        self.templates = Jinja2Templates(directory=_TEMPLATES)
        self.spotify = SpotifyClient(
            SpotifyClientConfig.from_settings(settings.spotify), transport=spotify_transport
        )
        self.app = FastAPI(
            title="Spotify listening history API",
            description="Collects Spotify plays and answers questions about them.",
            version="0.1.0",
            lifespan=self._lifespan,
        )
        self.app.state.database = self.database
        install_error_handlers(self.app)
        self.metrics = Metrics()
        self.rate_limiter = install_middleware(self.app, settings, self.metrics)
        self._setup_routers()

    def _setup_routers(self) -> None:
        settings = self.settings
        oauth = OAuthService(settings, self.spotify, TokenEncryptor.from_settings(settings))
        self.app.include_router(HealthRouter(self.database).router)
        self.app.include_router(SetupRouter(settings, self.templates).router)
        admin_auth = AdminAuthProvider(settings)
        metrics = MetricsRouter(self.metrics, admin_auth, public=settings.metrics_public)
        self.app.include_router(metrics.router)
        self.app.include_router(AuthRouter(oauth, self.templates, settings, admin_auth).router)
        receiver = ArchiveReceiver(settings.import_dir, settings.import_max_zip_size_mb * 1024**2)
        admin_service = AdminService(receiver, ToolTokenService())
        self.app.include_router(AdminRouter(admin_service, receiver, admin_auth).router)
        history = HistoryService(cache=answer_cache(settings))
        self.app.include_router(HistoryRouter(history, admin_auth).router)
        self._setup_tools(admin_auth, admin_service, history)

    def _setup_tools(
        self, admin_auth: AdminAuthProvider, admin: AdminService, history: HistoryService
    ) -> None:
        """One registry; three surfaces: /mcp/tools + /mcp/call, /mcp (MCP), /gpt (Actions)."""
        settings = self.settings
        self.tools = build_tool_registry(
            self._tool_sessions,
            self.spotify,
            TokenEncryptor.from_settings(settings),
            admin,
            history,
        )
        invoker = ToolInvoker(self.tools, self._tool_sessions)
        callers = ToolCallerResolver(admin_auth, ToolTokenVerifier(), self._tool_sessions)
        self.app.include_router(MCPRouter(invoker, callers).router)
        gpt = GptActionsRouter(invoker, callers, public_base_url=settings.public_base_url)
        self.app.include_router(gpt.router)
        self.mcp = MCPHttpEndpoint(
            MCPProtocolServer(invoker), callers, public_base_url=settings.public_base_url
        )
        self.app.router.routes.append(
            Route("/mcp", self.mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
        )

    @classmethod
    def from_settings(cls, settings: AppSettings) -> SpotifyMCPApp:
        """The production wiring: JSON logs on stderr and, if enabled, in the logs table."""
        database = DatabaseManager.from_settings(settings.database, server=True)
        handler = configure_logging(
            "api", settings.log_level, database=database if settings.log_to_database else None
        )
        return cls(settings, database=database, log_handler=handler, owns_database=True)

    @asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        if self._log_handler is not None:
            await self._log_handler.start()
        try:
            async with self.mcp.running():
                yield
        finally:
            await self.spotify.aclose()
            if self._log_handler is not None:
                await self._log_handler.stop()
            if self._owns_database:
                await self.database.dispose()


def build_tool_registry(
    sessions: SessionSource,
    spotify: SpotifyClient,
    encryptor: TokenEncryptor,
    admin: AdminService,
    history: HistoryService,
) -> MCPToolRegistry:
    """Every tool, registered once (also used by `spotify-mcp mcp-stdio`)."""
    registry = MCPToolRegistry()
    HistoryToolHandlers(history).register(registry)
    OpsToolHandlers(admin).register(registry)
    SpotifyToolHandlers(sessions, spotify, encryptor, history).register(registry)
    return registry


def create_app() -> FastAPI:
    """The ASGI app, configured from the environment."""
    app = SpotifyMCPApp.from_settings(AppSettings()).app
    settle_heap()
    return app
