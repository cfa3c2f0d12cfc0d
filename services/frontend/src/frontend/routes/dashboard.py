"""The dashboard: counts, sync health, who needs to log in again, errors, recent work."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from frontend.api_client import AdminApiClient
from frontend.pages import AdminPages
from shared.db.enums import ImportStatus, JobStatus, UserStatus

REFRESH_SECONDS = 10
SYNC_ROWS = 50


class DashboardRouter:
    """`/` and its auto-refreshing body, `/partials/dashboard`."""

    def __init__(self, pages: AdminPages) -> None:
        self._pages = pages
        self.router = APIRouter()
        self.router.add_api_route("/", self.dashboard, methods=["GET"], response_class=HTMLResponse)
        self.router.add_api_route(
            "/partials/dashboard",
            self.dashboard_panel,
            methods=["GET"],
            response_class=HTMLResponse,
        )

    async def dashboard(self, request: Request) -> HTMLResponse:
        """The whole dashboard page."""
        overview = await self._overview(self._pages.api_for(request))
        return self._pages.render(request, "dashboard.html", {"nav": "dashboard", **overview})

    async def dashboard_panel(self, request: Request) -> HTMLResponse:
        """The dashboard's body, polled by htmx every few seconds."""
        overview = await self._overview(self._pages.api_for(request))
        return self._pages.partial(request, "partials/dashboard.html", overview)

    async def _overview(self, api: AdminApiClient) -> dict[str, Any]:
        """Everything the dashboard shows, fetched from the API in parallel."""
        (
            status,
            sync,
            failed_jobs,
            active_jobs,
            queued_jobs,
            recent_jobs,
            recent_imports,
            running_imports,
            errors,
        ) = await asyncio.gather(
            api.status(),
            api.sync_status(limit=SYNC_ROWS),
            api.list_jobs(status=JobStatus.FAILED.value, limit=1),
            api.list_jobs(status=JobStatus.RUNNING.value, limit=1),
            api.list_jobs(status=JobStatus.PENDING.value, limit=1),
            api.list_jobs(limit=8),
            api.list_imports(limit=5),
            api.list_imports(status=ImportStatus.RUNNING.value, limit=1),
            api.list_logs(level="ERROR", limit=5),
        )
        reauth = await self._needing_reauthorisation(api, sync)
        counts: dict[str, int] = sync["counts_by_status"]
        users_by_status = {status.value: int(counts.get(status.value, 0)) for status in UserStatus}
        return {
            "refresh_seconds": REFRESH_SECONDS,
            "status": status,
            "users_total": sum(users_by_status.values()),
            "users_by_status": users_by_status,
            "jobs_failed": failed_jobs["total"],
            "jobs_running": active_jobs["total"],
            "jobs_queued": queued_jobs["total"],
            "imports_running": running_imports["total"],
            "sync_rows": sync["items"],
            "sync_total": sync["total"],
            "reauth_users": reauth,
            "errors": errors["items"],
            "recent_jobs": recent_jobs["items"],
            "recent_imports": recent_imports["items"],
        }

    @staticmethod
    async def _needing_reauthorisation(
        api: AdminApiClient, sync: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Users to log in again: from the page at hand when it holds every user."""
        wanted = UserStatus.REAUTH_REQUIRED.value
        if sync["total"] <= len(sync["items"]):
            return [row for row in sync["items"] if row["status"] == wanted]
        page = await api.sync_status(status=wanted, limit=SYNC_ROWS)
        items: list[dict[str, Any]] = page["items"]
        return items
