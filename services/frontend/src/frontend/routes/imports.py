"""Imports: uploaded privacy exports, their live progress, and a new upload."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from frontend.listing import MAX_ID, PAGE_SIZE, Pagination, QueryReader
from frontend.pages import AdminPages
from frontend.routes.uploads import ArchiveUpload
from shared.db.enums import ImportStatus

ImportId = Annotated[int, Path(ge=1, le=MAX_ID)]
ACTIVE = frozenset({ImportStatus.PENDING.value, ImportStatus.RUNNING.value})
POLL_SECONDS = 1
USER_CHOICES = 200


class ImportsRouter:
    """`/imports` (list, upload), `/imports/{id}` and the progress fragments htmx polls."""

    def __init__(self, pages: AdminPages) -> None:
        self._pages = pages
        self._uploads = ArchiveUpload(pages)
        self.router = APIRouter()
        route = self.router.add_api_route
        route("/imports", self.list_imports, methods=["GET"], response_class=HTMLResponse)
        route("/imports", self.upload, methods=["POST"], response_model=None)
        route(
            "/imports/{import_id}", self.import_detail, methods=["GET"], response_class=HTMLResponse
        )
        route("/partials/imports", self.imports_table, methods=["GET"], response_class=HTMLResponse)
        route(
            "/partials/imports/{import_id}/progress",
            self.import_progress,
            methods=["GET"],
            response_class=HTMLResponse,
        )

    async def list_imports(self, request: Request) -> HTMLResponse:
        """Imports matching the filters, live while any runs, and the upload form."""
        api = self._pages.api_for(request)
        reader = QueryReader(request.query_params)
        filters = self._extract_filters(reader)
        page, users = await asyncio.gather(
            api.list_imports(**filters, limit=PAGE_SIZE, offset=reader.offset()),
            api.list_users(limit=USER_CHOICES),
        )
        return self._pages.render(
            request,
            "imports.html",
            {
                "nav": "imports",
                "users": users["items"],
                "filters": filters,
                "statuses": [status.value for status in ImportStatus],
                **self._table(page, filters),
            },
        )

    async def imports_table(self, request: Request) -> HTMLResponse:
        """The imports table alone, for htmx to refresh while imports run."""
        reader = QueryReader(request.query_params)
        filters = self._extract_filters(reader)
        page = await self._pages.api_for(request).list_imports(
            **filters, limit=PAGE_SIZE, offset=reader.offset()
        )
        return self._pages.partial(
            request, "partials/imports_table.html", self._table(page, filters)
        )

    async def upload(
        self,
        request: Request,
        file: Annotated[UploadFile, File()],
        user_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    ) -> Response:
        """Upload a privacy-export ZIP for the chosen user."""
        return await self._uploads.forward(request, user_id, file, back="/imports")

    async def import_detail(self, request: Request, import_id: ImportId) -> HTMLResponse:
        """One import: its file, counts, skip reasons and a live progress bar."""
        job = await self._pages.api_for(request).get_import(import_id)
        return self._pages.render(
            request, "import_detail.html", {"nav": "imports", "job": job, **self._live(job)}
        )

    async def import_progress(self, request: Request, import_id: ImportId) -> HTMLResponse:
        """The progress fragment; it stops asking to be polled once the import has ended."""
        job = await self._pages.api_for(request).get_import(import_id)
        return self._pages.partial(
            request, "partials/import_progress.html", {"job": job, **self._live(job)}
        )

    @staticmethod
    def _live(job: dict[str, Any]) -> dict[str, Any]:
        return {"active": job["status"] in ACTIVE, "poll_seconds": POLL_SECONDS}

    @staticmethod
    def _table(page: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
        pagination = Pagination.of(page, "/imports", filters)
        return {
            "imports": page["items"],
            "pagination": pagination,
            "active": any(job["status"] in ACTIVE for job in page["items"]),
            "poll_seconds": POLL_SECONDS,
        }

    @staticmethod
    def _extract_filters(reader: QueryReader) -> dict[str, Any]:
        return {
            "user_id": reader.identifier("user_id"),
            "status": reader.choice("status", [status.value for status in ImportStatus]),
        }
