"""No token, secret, code, email or client IP reaches a log line, the logs table or a response."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from app.main import SpotifyMCPApp
from fake_spotify import FakeSpotifyServer
from shared.crypto import TokenEncryptor
from shared.db.models import LogEntry, SpotifyToken
from shared.logging import configure_logging
from shared.spotify import SpotifyError, StaticTokenProvider
from testkit.plugin import FreshDatabase
from testkit.spotify import TEST_CLIENT_SECRET

from .conftest import API_BASE_URL, build_settings

CLIENT_IP = "203.0.113.77"
EMAIL = "demo@example.com"
ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the root logger; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class TestNothingSensitiveLeaks:
    async def test_login_refresh_failures_and_error_pages(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        restore_logging: None,
    ) -> None:
        fake_spotify.state.switches.development_mode = False  # /me then carries the email
        database = await fresh_database()
        stream = io.StringIO()
        handler = configure_logging("api", "DEBUG", database=database, stream=stream)
        assert handler is not None
        await handler.start()
        settings = build_settings(
            fake_spotify, log_level="DEBUG", trusted_proxies="127.0.0.1/32,::1/128"
        )
        application = SpotifyMCPApp(settings, database=database, log_handler=handler)
        forwarded = {"X-Forwarded-For": CLIENT_IP}
        bodies: list[str] = []
        secrets: set[str] = {TEST_CLIENT_SECRET, ADMIN_TOKEN, EMAIL, CLIENT_IP}

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application.app, client=("127.0.0.1", 50000)),
            base_url=API_BASE_URL,
        ) as browser:

            async def call(
                method: str, url: str, headers: dict[str, str] | None = None
            ) -> httpx.Response:
                sent = forwarded if headers is None else {**forwarded, **headers}
                response = await browser.request(method, url, headers=sent)
                bodies.append(response.text)
                bodies.extend(f"{k}: {v}" for k, v in response.headers.items())
                return response

            # A complete login.
            start = await call("GET", "/auth/login")
            fake_spotify.state.switches.auto_approve_user_id = "demo"
            async with httpx.AsyncClient() as spotify_side:
                redirect = await spotify_side.get(start.headers["location"])
            callback = redirect.headers["location"]
            secrets.add(parse_qs(urlsplit(callback).query)["code"][0])
            assert (await call("GET", callback)).status_code == 200

            # Error pages: replayed state, declined access, unknown route, no credentials.
            assert (await call("GET", callback)).status_code == 400
            await call("GET", "/auth/callback?error=access_denied&state=x")
            await call("GET", "/no/such/route")
            await call("POST", "/auth/logout?user_id=1")
            await call("GET", "/admin/users", headers={})

            # A login whose Spotify side fails.
            start = await call("GET", "/auth/login")
            async with httpx.AsyncClient() as spotify_side:
                redirect = await spotify_side.get(start.headers["location"])
            fake_spotify.state.inject_failures(500, count=None, target="accounts")
            assert (await call("GET", redirect.headers["location"])).status_code == 502
            fake_spotify.state.clear_failures()

        # A refresh and a failing Spotify call with the stored tokens.
        encryptor = TokenEncryptor.from_settings(settings)
        async with database.session() as session:
            stored = await session.scalar(select(SpotifyToken))
        assert stored is not None
        access = encryptor.decrypt(stored.access_token_encrypted)
        refresh = encryptor.decrypt(stored.refresh_token_encrypted)
        provider = StaticTokenProvider.from_pair(
            application.spotify, access_token=access, refresh_token=refresh
        )
        fake_spotify.state.expire_access_tokens("demo")
        await application.spotify.get_current_user(provider)  # 401, refresh, retry
        assert provider.refresh_count == 1
        secrets.update({access, refresh, provider.tokens.access_token})
        fake_spotify.state.inject_failures(500, count=None, target="api")
        with pytest.raises(SpotifyError):
            await application.spotify.get_current_user(provider)
        await application.spotify.aclose()

        await handler.drain()
        await handler.stop()
        async with database.session() as session:
            rows = (await session.scalars(select(LogEntry))).all()
        stored_lines = [f"{row.message} {row.extra}" for row in rows]
        output = stream.getvalue()

        assert rows, "the logs table received nothing"
        assert output, "nothing was logged"
        for secret in secrets:
            assert secret not in output, f"{secret[:6]}... in the log output"
            assert not any(secret in line for line in stored_lines), f"{secret[:6]}... in logs"
            assert not any(secret in body for body in bodies), f"{secret[:6]}... in a response"
