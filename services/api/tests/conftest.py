"""API test fixtures: the app on the test database, talking to the live fake Spotify."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.dependencies import get_session, get_write_session
from app.main import SpotifyMCPApp
from app.settings import AppSettings
from fake_spotify import FakeSpotifyServer
from shared.config import DatabaseSettings, SpotifySettings
from shared.db.manager import DatabaseManager
from testkit.spotify import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_REDIRECT_URI

API_BASE_URL = "http://127.0.0.1:8000"


def build_settings(fake: FakeSpotifyServer | None, **overrides: object) -> AppSettings:
    """Settings for tests: explicit values only, nothing from the machine's .env."""
    spotify = (
        SpotifySettings(
            _env_file=None,
            spotify_client_id=TEST_CLIENT_ID,
            spotify_client_secret=SecretStr(TEST_CLIENT_SECRET),
            spotify_redirect_uri=TEST_REDIRECT_URI,
            spotify_accounts_url=fake.accounts_url,
            spotify_api_url=fake.api_url,
            spotify_max_retries=1,
        )
        if fake is not None
        else SpotifySettings(_env_file=None, spotify_client_id="", spotify_client_secret=None)
    )
    values: dict[str, object] = {
        "token_encryption_keys": SecretStr(Fernet.generate_key().decode()),
        "secret_key": SecretStr("test-signing-key-0123456789abcdef"),
        "admin_token": SecretStr("test-admin-token-0123456789"),
        "public_base_url": API_BASE_URL,
        "log_to_database": False,
        # Tests send many wrong credentials on purpose; the throttle has its own tests.
        "credential_failure_rate_limit": "100000/minute",
        "spotify": spotify,
        "database": DatabaseSettings(_env_file=None),
    }
    values.update(overrides)
    return AppSettings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def api_settings(fake_spotify: FakeSpotifyServer) -> AppSettings:
    """Settings pointing at the fake Spotify."""
    return build_settings(fake_spotify)


@pytest.fixture
def api(
    api_settings: AppSettings, database: DatabaseManager, db_session: AsyncSession
) -> SpotifyMCPApp:
    """The API on the test database; each request uses the test's rolled-back session."""
    application = SpotifyMCPApp(api_settings, database=database)

    async def _session() -> AsyncIterator[AsyncSession]:
        yield db_session

    application.app.dependency_overrides[get_session] = _session
    application.app.dependency_overrides[get_write_session] = _session
    return application


@pytest.fixture
async def client(api: SpotifyMCPApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the API app (cookies kept, redirects not followed)."""
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url=API_BASE_URL) as http:
        yield http
