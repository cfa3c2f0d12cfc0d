"""The real API app for middleware tests: Spotify unconfigured, no database work."""

from __future__ import annotations

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.main import SpotifyMCPApp
from app.settings import AppSettings
from shared.config import DatabaseSettings, SpotifySettings

API_BASE_URL = "http://127.0.0.1:8000"
ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def build_app(**overrides: object) -> SpotifyMCPApp:
    """The app as `SpotifyMCPApp` builds it, from explicit settings with `overrides` applied."""
    values: dict[str, object] = {
        "token_encryption_keys": SecretStr(Fernet.generate_key().decode()),
        "secret_key": SecretStr("test-signing-key-0123456789abcdef"),
        "admin_token": SecretStr(ADMIN_TOKEN),
        "public_base_url": API_BASE_URL,
        "log_to_database": False,
        "spotify": SpotifySettings(
            _env_file=None, spotify_client_id="", spotify_client_secret=None
        ),
        # Under the test's temporary folder; these tests reach no route that queries it.
        "database": DatabaseSettings(_env_file=None),
    }
    values.update(overrides)
    return SpotifyMCPApp(AppSettings(_env_file=None, **values))  # type: ignore[arg-type]


def http_client(
    application: SpotifyMCPApp, *, peer: str = "127.0.0.1", base_url: str = API_BASE_URL
) -> httpx.AsyncClient:
    """A client of the app whose connections come from `peer`."""
    transport = httpx.ASGITransport(app=application.app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)
