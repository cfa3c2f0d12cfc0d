"""`FrontendApp`: the admin UI's application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from frontend.api_client import AdminApiClient
from frontend.routes.home import HomeRouter
from frontend.settings import FrontendSettings
from shared.logging import configure_logging

_TEMPLATES = Path(__file__).parent / "templates"


class FrontendApp:
    """Builds the admin UI: routers, templates and the API client."""

    def __init__(self, settings: FrontendSettings, api: AdminApiClient | None = None) -> None:
        self.settings = settings
        self.api = api or AdminApiClient(settings.api_base_url, settings.admin_token)
        self.templates = Jinja2Templates(directory=_TEMPLATES)
        self.app = FastAPI(
            title="Spotify listening history · admin",
            lifespan=self._lifespan,
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
        )
        self._setup_routers()

    def _setup_routers(self) -> None:
        self.app.include_router(
            HomeRouter(self.api, self.templates, self.settings.api_base_url).router
        )

    @asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        yield
        await self.api.aclose()


def create_app() -> FastAPI:
    """The ASGI app, configured from the environment, logging JSON to stderr."""
    settings = FrontendSettings()
    configure_logging("frontend", settings.log_level)
    return FrontendApp(settings).app
