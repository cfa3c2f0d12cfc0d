"""Vendored htmx and Chart.js, served from the UI itself with long-lived caching; no inline code."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest

from frontend.assets import CHART_JS, HTMX_JS, STATIC_DIR, StaticAssets

from .conftest import browser_for, frontend_for

TEMPLATES = Path(STATIC_DIR).parent / "templates"
VENDOR = STATIC_DIR / "vendor"


def _no_api(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(503)


@pytest.fixture
def browser() -> httpx.AsyncClient:
    """A browser of a frontend whose API is never needed for static files."""
    return browser_for(frontend_for(httpx.MockTransport(_no_api)))


class TestVendoredLibraries:
    @pytest.mark.parametrize("name", [HTMX_JS, CHART_JS])
    def test_each_library_matches_the_checksum_recorded_and_has_its_licence(
        self, name: str
    ) -> None:
        path = STATIC_DIR / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in (VENDOR / "README.md").read_text()
        assert any(candidate.name.startswith("LICENSE") for candidate in path.parent.iterdir())

    def test_no_template_loads_anything_from_another_host(self) -> None:
        for template in TEMPLATES.rglob("*.html"):
            text = template.read_text()
            for found in re.findall(r'(?:src|href)="(https?:)?//', text):
                pytest.fail(f"{template.name} loads from another host: {found}")

    def test_no_template_has_inline_script_style_or_event_handler(self) -> None:
        for template in TEMPLATES.rglob("*.html"):
            text = template.read_text()
            for tag in re.findall(r"<script\b[^>]*>", text):
                assert "src=" in tag, (template.name, tag)
            assert not re.search(r"<style\b", text), template.name
            assert not re.search(r"\sstyle=", text), template.name
            assert not re.search(r"\son[a-z]+=", text), template.name
            assert "hx-on" not in text, template.name  # htmx would need eval for it


class TestCaching:
    async def test_a_hashed_url_is_cached_for_a_year(self, browser: httpx.AsyncClient) -> None:
        url = StaticAssets().url(HTMX_JS)
        async with browser:
            response = await browser.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.content == (STATIC_DIR / HTMX_JS).read_bytes()

    async def test_without_the_current_hash_it_is_revalidated_by_etag(
        self, browser: httpx.AsyncClient
    ) -> None:
        async with browser:
            first = await browser.get(f"/static/{CHART_JS}?v=stale")
            again = await browser.get(
                f"/static/{CHART_JS}", headers={"If-None-Match": first.headers["etag"]}
            )
        assert first.headers["cache-control"] == "no-cache"
        assert again.status_code == 304

    def test_the_url_changes_with_the_content(self, tmp_path: Path) -> None:
        (tmp_path / "app.js").write_text("one")
        before = StaticAssets(tmp_path).url("app.js")
        (tmp_path / "app.js").write_text("two")
        assert StaticAssets(tmp_path).url("app.js") != before

    async def test_pages_reference_the_hashed_urls(self, browser: httpx.AsyncClient) -> None:
        async with browser:
            page = await browser.get("/login")
        assert StaticAssets().url(HTMX_JS) in page.text
        assert StaticAssets().url("css/admin.css") in page.text

    async def test_a_missing_file_is_a_404(self, browser: httpx.AsyncClient) -> None:
        async with browser:
            response = await browser.get("/static/vendor/nothing.js")
        assert response.status_code == 404
