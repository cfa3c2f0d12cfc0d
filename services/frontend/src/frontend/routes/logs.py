"""Logs: the stored log lines, searchable, refreshing themselves, and their purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from frontend.listing import PAGE_SIZE, Pagination, QueryReader
from frontend.pages import AdminPages

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SERVICES = ("api", "collector", "frontend", "cli")
REFRESH_SECONDS = 5
# What "purge" may keep: lines of the last N days, or nothing.
PURGE_CHOICES = {"7": 7, "30": 30, "90": 90, "all": None}


class LogsRouter:
    """`/logs` with filters (service, level, user, request ID, text, since) and `/logs/purge`."""

    def __init__(self, pages: AdminPages) -> None:
        self._pages = pages
        self.router = APIRouter()
        route = self.router.add_api_route
        route("/logs", self.list_logs, methods=["GET"], response_class=HTMLResponse)
        route("/partials/logs", self.logs_table, methods=["GET"], response_class=HTMLResponse)
        route("/logs/purge", self.purge, methods=["POST"], response_model=None)

    async def list_logs(self, request: Request) -> HTMLResponse:
        """The log viewer page."""
        context = await self._table(request)
        return self._pages.render(
            request,
            "logs.html",
            {"nav": "logs", "levels": LEVELS, "services": SERVICES, **context},
        )

    async def logs_table(self, request: Request) -> HTMLResponse:
        """The log table alone, polled by htmx on the first page."""
        return self._pages.partial(request, "partials/logs_table.html", await self._table(request))

    async def purge(
        self,
        request: Request,
        keep_days: Annotated[str, Form(max_length=8)] = "",
        confirm: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        """Delete stored log lines older than the chosen age, or all of them."""
        if keep_days not in PURGE_CHOICES or confirm != "yes":
            self._pages.flash(request, "error", "Tick the confirmation box to purge log lines.")
            return self._pages.redirect("/logs")
        days = PURGE_CHOICES[keep_days]
        before = None if days is None else (datetime.now(UTC) - timedelta(days=days)).isoformat()
        deleted = await self._pages.api_for(request).purge_logs(before)
        kept = "all of them" if days is None else f"those older than {days} days"
        self._pages.flash(request, "ok", f"Deleted {deleted} log lines ({kept}).")
        return self._pages.redirect("/logs")

    async def _table(self, request: Request) -> dict[str, Any]:
        reader = QueryReader(request.query_params)
        filters = self._extract_filters(reader)
        page = await self._pages.api_for(request).list_logs(
            **filters, limit=PAGE_SIZE, offset=reader.offset()
        )
        pagination = Pagination.of(page, "/logs", filters)
        return {
            "entries": page["items"],
            "filters": filters,
            "pagination": pagination,
            # Refresh only the newest lines: a later page would shift under the reader.
            "refresh_seconds": REFRESH_SECONDS if pagination.offset == 0 else None,
        }

    @staticmethod
    def _extract_filters(reader: QueryReader) -> dict[str, Any]:
        return {
            "service": reader.text("service", 32),
            "level": reader.choice("level", LEVELS),
            "user_id": reader.identifier("user_id"),
            "request_id": reader.text("request_id", 64),
            "text": reader.text("text", 200),
            "since": reader.moment("since"),
        }
