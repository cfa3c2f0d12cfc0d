"""The login page also says what the deployment still needs, from the API's public status."""

from __future__ import annotations

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr

from app.main import SpotifyMCPApp
from app.settings import AppSettings
from shared.config import SpotifySettings
from shared.db.manager import DatabaseManager

from .conftest import browser_for, frontend_for


def _real_api(configured: bool) -> FastAPI:
    """The real API app; /status reads only settings, so its database is never opened."""
    secret = SecretStr("client-secret-for-tests") if configured else None
    settings = AppSettings(
        _env_file=None,
        token_encryption_keys=SecretStr(Fernet.generate_key().decode()),
        secret_key=SecretStr("signing-key-for-tests"),
        log_to_database=False,
        spotify=SpotifySettings(
            _env_file=None, spotify_client_id="client-id", spotify_client_secret=secret
        ),
    )
    database = DatabaseManager("sqlite+aiosqlite:///:memory:")
    return SpotifyMCPApp(settings, database=database).app


async def _login_page(api: httpx.AsyncBaseTransport) -> httpx.Response:
    async with browser_for(frontend_for(api)) as browser:
        return await browser.get("/login")


class TestLoginPageStatus:
    async def test_health_check_needs_no_session(self) -> None:
        async with browser_for(frontend_for(httpx.ASGITransport(app=_real_api(True)))) as browser:
            response = await browser.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_tells_how_to_configure_spotify(self) -> None:
        page = await _login_page(httpx.ASGITransport(app=_real_api(False)))
        assert page.status_code == 200
        assert "SPOTIFY_CLIENT_ID" in page.text
        assert "http://127.0.0.1:8000/auth/callback" in page.text

    async def test_shows_where_listeners_connect_when_configured(self) -> None:
        page = await _login_page(httpx.ASGITransport(app=_real_api(True)))
        assert "/auth/login" in page.text
        assert "SPOTIFY_CLIENT_ID" not in page.text

    async def test_says_when_the_api_is_down(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        page = await _login_page(httpx.MockTransport(refuse))
        assert page.status_code == 200
        assert "not answering" in page.text
