"""Job runs: the collector's polls, initial syncs and imports, filtered and paged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from frontend.listing import PAGE_SIZE, Pagination, QueryReader
from frontend.pages import AdminPages
from shared.db.enums import JobStatus, JobType


class JobsRouter:
    """`/jobs`: filters by user, type and status; pages of 25, newest first."""

    def __init__(self, pages: AdminPages) -> None:
        self._pages = pages
        self.router = APIRouter()
        self.router.add_api_route(
            "/jobs", self.list_jobs, methods=["GET"], response_class=HTMLResponse
        )

    async def list_jobs(self, request: Request) -> HTMLResponse:
        """The job runs matching the filters."""
        filters = self._extract_filters(QueryReader(request.query_params))
        reader = QueryReader(request.query_params)
        page = await self._pages.api_for(request).list_jobs(
            **filters, limit=PAGE_SIZE, offset=reader.offset()
        )
        return self._pages.render(
            request,
            "jobs.html",
            {
                "nav": "jobs",
                "jobs": page["items"],
                "filters": filters,
                "job_types": [job_type.value for job_type in JobType],
                "statuses": [status.value for status in JobStatus],
                "pagination": Pagination.of(page, "/jobs", filters),
            },
        )

    @staticmethod
    def _extract_filters(reader: QueryReader) -> dict[str, Any]:
        return {
            "user_id": reader.identifier("user_id"),
            "job_type": reader.choice("job_type", [job_type.value for job_type in JobType]),
            "status": reader.choice("status", [status.value for status in JobStatus]),
        }
