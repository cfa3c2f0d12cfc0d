"""Forwarding an uploaded privacy-export ZIP to the API, from the user and imports pages."""

from __future__ import annotations

from fastapi import Request, UploadFile
from fastapi.responses import Response

from frontend.api_client import ApiError, ApiNotFoundError
from frontend.pages import AdminPages


class ArchiveUpload:
    """Sends the browser's upload on to the API for one user, then shows its import."""

    def __init__(self, pages: AdminPages) -> None:
        self._pages = pages

    async def forward(
        self, request: Request, user_id: int, archive: UploadFile, *, back: str
    ) -> Response:
        """Upload `archive` for `user_id`; on success go to the import, else back with why."""
        filename = (archive.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        if not filename:
            self._pages.flash(request, "error", "Choose the ZIP file Spotify sent you.")
            return self._pages.redirect(back)
        api = self._pages.api_for(request)
        try:
            job = await api.upload_import(user_id, filename, archive.file)
        except ApiNotFoundError:
            raise
        except ApiError as exc:
            self._pages.flash(request, "error", f"{filename}: {exc.message}")
            return self._pages.redirect(back)
        finally:
            await archive.close()
        self._pages.flash(request, "ok", f"Uploaded {filename}; the collector imports it now.")
        return self._pages.redirect(f"/imports/{job['id']}")
