"""The landing page and the frontend's own health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from frontend.api_client import AdminApiClient, ApiUnavailableError


class HomeRouter:
    """`/` (set-up status) and `/healthz`."""

    def __init__(self, api: AdminApiClient, templates: Jinja2Templates, api_base_url: str) -> None:
        self._api = api
        self._templates = templates
        self._api_base_url = api_base_url
        self.router = APIRouter()
        self.router.add_api_route("/healthz", self.healthz, methods=["GET"])
        self.router.add_api_route("/", self.home, methods=["GET"], response_class=HTMLResponse)

    async def healthz(self) -> dict[str, str]:
        """Liveness of the frontend process."""
        return {"status": "ok"}

    async def home(self, request: Request) -> HTMLResponse:
        """What runs, and what to configure next."""
        status: dict[str, Any] | None
        problem: str | None = None
        try:
            status = await self._api.status()
        except ApiUnavailableError as exc:
            status, problem = None, str(exc)
        return self._templates.TemplateResponse(
            request,
            "home.html",
            {"status": status, "problem": problem, "api_base_url": self._api_base_url},
        )
