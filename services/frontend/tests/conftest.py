"""Frontend fixtures: the admin UI talking to the real API app on the test database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.dependencies import get_session, get_write_session
from app.main import SpotifyMCPApp
from app.settings import AppSettings
from frontend.api_client import AdminApiClient
from frontend.main import FrontendApp
from frontend.settings import FrontendSettings
from shared.config import DatabaseSettings, SpotifySettings
from shared.db.manager import DatabaseManager

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "correct-horse-battery-staple-42"
ADMIN_TOKEN = "test-admin-token-0123456789"
SECRET_KEY = "frontend-test-signing-key-0123456789abcdef"
FRONTEND_URL = "http://127.0.0.1:8001"
API_URL = "http://api.test"


def build_api_settings(import_dir: Path, **overrides: object) -> AppSettings:
    """API settings for tests: explicit values only, nothing from the machine's .env."""
    values: dict[str, object] = {
        "token_encryption_keys": SecretStr(Fernet.generate_key().decode()),
        "secret_key": SecretStr("api-test-signing-key-0123456789"),
        "admin_token": SecretStr(ADMIN_TOKEN),
        "admin_username": ADMIN_USERNAME,
        "admin_password": SecretStr(ADMIN_PASSWORD),
        "log_to_database": False,
        "import_dir": import_dir,
        # Tests log in wrongly on purpose; the API's throttle has its own tests.
        "credential_failure_rate_limit": "100000/minute",
        "spotify": SpotifySettings(_env_file=None),
        "database": DatabaseSettings(_env_file=None),
    }
    values.update(overrides)
    return AppSettings(_env_file=None, **values)  # type: ignore[arg-type]


def build_frontend_settings(**overrides: object) -> FrontendSettings:
    """Frontend settings for tests."""
    values: dict[str, object] = {"secret_key": SecretStr(SECRET_KEY)}
    values.update(overrides)
    return FrontendSettings(_env_file=None, **values)  # type: ignore[arg-type]


def frontend_for(api: httpx.AsyncBaseTransport, **overrides: object) -> FrontendApp:
    """The frontend with its API client going through `api`."""
    return FrontendApp(
        build_frontend_settings(**overrides), api=AdminApiClient(API_URL, transport=api)
    )


def browser_for(frontend: FrontendApp) -> httpx.AsyncClient:
    """An HTTP client of the frontend that keeps cookies and does not follow redirects."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=frontend.app), base_url=FRONTEND_URL)


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


async def log_in(
    browser: httpx.AsyncClient, password: str = ADMIN_PASSWORD, username: str = ADMIN_USERNAME
) -> httpx.Response:
    """Fill in and send the login form as a browser would."""
    form = await browser.get("/login")
    return await browser.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
    )


class SessionHolder:
    """The rolled-back session of the running test, which the shared API app uses."""

    session: AsyncSession | None = None


@pytest.fixture(scope="session")
def shared_api(
    database: DatabaseManager, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SpotifyMCPApp, SessionHolder]:
    """One API app per database for the whole run (building one takes about a second)."""
    holder = SessionHolder()
    application = SpotifyMCPApp(
        build_api_settings(tmp_path_factory.mktemp("imports")), database=database
    )

    async def _session() -> AsyncIterator[AsyncSession]:
        assert holder.session is not None, "the API is used outside a test"
        yield holder.session

    application.app.dependency_overrides[get_session] = _session
    application.app.dependency_overrides[get_write_session] = _session
    return application, holder


@pytest.fixture
def api(
    shared_api: tuple[SpotifyMCPApp, SessionHolder], db_session: AsyncSession
) -> Iterator[SpotifyMCPApp]:
    """The real API on the test database; each request uses the test's rolled-back session."""
    application, holder = shared_api
    holder.session = db_session
    yield application
    holder.session = None


@pytest.fixture
def frontend(api: SpotifyMCPApp) -> FrontendApp:
    """The admin UI in front of the real API."""
    return frontend_for(httpx.ASGITransport(app=api.app))


@pytest.fixture
async def browser(frontend: FrontendApp) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-out browser of the admin UI."""
    async with browser_for(frontend) as client:
        yield client


@pytest.fixture
async def admin(browser: httpx.AsyncClient) -> httpx.AsyncClient:
    """A browser logged in as the admin."""
    response = await log_in(browser)
    assert response.status_code == 303, response.text
    return browser
