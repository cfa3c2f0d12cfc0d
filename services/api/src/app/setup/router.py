"""`/` and `/status`: tell a person what is configured and what to do next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from app.settings import AppSettings
from app.setup.steps import spotify_setup_steps


class SetupStatus(BaseModel):
    """Public facts about the deployment; nothing secret."""

    spotify_configured: bool
    demo_mode: bool
    redirect_uri: str
    login_url: str
    frontend_url: str
    setup_steps: list[str]


class SetupRouter:
    """The landing page and its JSON twin (the admin UI reads the latter)."""

    def __init__(self, settings: AppSettings, templates: Jinja2Templates) -> None:
        self._settings = settings
        self._templates = templates
        self.router = APIRouter(tags=["status"])
        self.router.add_api_route(
            "/status", self.status, methods=["GET"], response_model=SetupStatus
        )
        self.router.add_api_route(
            "/", self.home, methods=["GET"], response_class=HTMLResponse, include_in_schema=False
        )

    async def status(self) -> SetupStatus:
        """Whether Spotify is configured and where to log in; no secrets."""
        settings = self._settings
        return SetupStatus(
            spotify_configured=settings.spotify.configured,
            demo_mode=settings.demo_mode,
            redirect_uri=settings.spotify.spotify_redirect_uri,
            login_url=f"{settings.public_base_url.rstrip('/')}/auth/login",
            frontend_url=settings.frontend_base_url,
            setup_steps=[] if settings.spotify.configured else self._steps(),
        )

    def _steps(self) -> list[str]:
        return spotify_setup_steps(self._settings.spotify.spotify_redirect_uri)

    async def home(self, request: Request) -> HTMLResponse:
        """A page saying what runs and what to configure next."""
        return self._templates.TemplateResponse(
            request,
            "setup.html",
            {
                "title": "Status",
                "spotify_configured": self._settings.spotify.configured,
                "setup_steps": self._steps(),
                "frontend_url": self._settings.frontend_base_url,
            },
        )
