"""Static files with content-hashed URLs, so browsers may cache them for a year."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"
HTMX_JS = "vendor/htmx.org-2.0.11/htmx.min.js"
CHART_JS = "vendor/chart.js-4.6.1/chart.umd.min.js"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # cache, but ask (ETag) before each use


class StaticAssets:
    """Knows each static file's content hash, and builds URLs that change when it does."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.directory = directory
        self._versions = {
            path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[
                :16
            ]
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }

    def url(self, name: str) -> str:
        """`/static/<name>?v=<hash>` for a file under the static folder."""
        version = self._versions.get(name)
        if version is None:
            raise KeyError(f"no static file {name!r}")
        return f"{STATIC_PREFIX}/{name}?v={version}"

    def version(self, name: str) -> str | None:
        """The current content hash of a file, or None when there is no such file."""
        return self._versions.get(name)


class CachedStaticFiles(StaticFiles):
    """StaticFiles (ETag, Last-Modified) plus a year's caching for a URL with the right hash."""

    def __init__(self, assets: StaticAssets) -> None:
        super().__init__(directory=assets.directory)
        self._assets = assets

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file (or 304), cached for a year when requested under its current hash."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = self._cache_control(full_path, scope)
        return response

    def _cache_control(self, full_path: PathLike, scope: Scope) -> str:
        name = Path(full_path).resolve().relative_to(self._assets.directory.resolve()).as_posix()
        query = scope.get("query_string", b"").decode("latin-1")
        wanted = dict(part.partition("=")[::2] for part in query.split("&") if part).get("v")
        current = self._assets.version(name)
        return IMMUTABLE if current is not None and wanted == current else REVALIDATE
