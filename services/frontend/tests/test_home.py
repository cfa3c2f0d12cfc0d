"""The frontend answers its health check and shows what to configure, from the API's status."""

from __future__ import annotations

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr

from app.main import SpotifyMCPApp
from app.settings import AppSettings
from frontend.api_client import AdminApiClient
from frontend.main import FrontendApp
from frontend.settings import FrontendSettings
from shared.config import SpotifySettings
from shared.db.manager import DatabaseManager


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


def _frontend(api_transport: httpx.AsyncBaseTransport) -> FastAPI:
    settings = FrontendSettings(_env_file=None, admin_token=SecretStr("t"))
    client = AdminApiClient("http://api.test", settings.admin_token, transport=api_transport)
    return FrontendApp(settings, api=client).app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8001"
    ) as http:
        return await http.get(path)


class TestHome:
    async def test_healthz(self) -> None:
        app = _frontend(httpx.ASGITransport(app=_real_api(True)))
        response = await _get(app, "/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_tells_how_to_configure_spotify(self) -> None:
        page = await _get(_frontend(httpx.ASGITransport(app=_real_api(False))), "/")
        assert page.status_code == 200
        assert "SPOTIFY_CLIENT_ID" in page.text
        assert "http://127.0.0.1:8000/auth/callback" in page.text

    async def test_offers_the_login_when_configured(self) -> None:
        page = await _get(_frontend(httpx.ASGITransport(app=_real_api(True))), "/")
        assert "/auth/login" in page.text
        assert "SPOTIFY_CLIENT_ID" not in page.text

    async def test_says_when_the_api_is_down(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        page = await _get(_frontend(httpx.MockTransport(refuse)), "/")
        assert page.status_code == 200
        assert "not answering" in page.text


class TestAdminApiClient:
    def test_auth_header_carries_the_admin_token(self) -> None:
        headers = AdminApiClient.build_auth_headers(SecretStr("abc"))
        assert headers == {"Authorization": "Bearer abc"}

    def test_no_token_no_header(self) -> None:
        assert AdminApiClient.build_auth_headers(None) == {}
