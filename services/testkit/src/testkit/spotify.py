"""Pytest fixtures: a live fake Spotify over real HTTP, and clients authorised against it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from typing import Any

import httpx
import pytest
import pytest_asyncio

from fake_spotify import FakeSpotifyServer, FakeSpotifyState, RegisteredApp
from shared.spotify import SpotifyClient, SpotifyClientConfig, StaticTokenProvider
from shared.spotify.constants import DEFAULT_SCOPES

TEST_CLIENT_ID = "5f1c0a9e2b7d4c3f8a6e1d0b9c8f7a6e"
TEST_CLIENT_SECRET = "test-client-secret-9d2f4b7a1c6e3f8a"  # noqa: S105 - a test fixture value
TEST_REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"
DEMO_USER_ID = "demo"


class RecordingSleep:
    """A sleep to inject into the client: records every wait and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def build_fake_spotify_state(**overrides: Any) -> FakeSpotifyState:
    """A fake Spotify state with the test app registered (keyword overrides for the state)."""
    app = RegisteredApp(TEST_CLIENT_ID, TEST_CLIENT_SECRET, frozenset({TEST_REDIRECT_URI}))
    return FakeSpotifyState(apps=[app], **overrides)


def spotify_client_config(server: FakeSpotifyServer, **overrides: Any) -> SpotifyClientConfig:
    """A client configuration pointing at the fake, with the test app's credentials."""
    config = SpotifyClientConfig(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        redirect_uri=TEST_REDIRECT_URI,
        accounts_base_url=server.accounts_url,
        api_base_url=server.api_url,
        timeout_seconds=5.0,
        max_retries=3,
        backoff_base_seconds=0.5,
        backoff_cap_seconds=8.0,
        max_retry_after_seconds=60.0,
    )
    return replace(config, **overrides)


async def authorise_user(
    server: FakeSpotifyServer,
    client: SpotifyClient,
    user_id: str = DEMO_USER_ID,
    *,
    scopes: Sequence[str] = DEFAULT_SCOPES,
) -> StaticTokenProvider:
    """Run the real authorization-code flow against the fake and hold the user's tokens."""
    switches = server.state.switches
    previous = switches.auto_approve_user_id
    switches.auto_approve_user_id = user_id
    try:
        url = client.authorize_url(secrets.token_urlsafe(8), scopes=scopes)
        async with httpx.AsyncClient() as browser:
            response = await browser.get(url)
    finally:
        switches.auto_approve_user_id = previous
    if response.status_code != 302:
        raise AssertionError(f"/authorize answered {response.status_code}, not a redirect")
    code = httpx.URL(response.headers["location"]).params["code"]
    tokens = await client.exchange_code(code)
    return StaticTokenProvider(client, tokens)


@pytest.fixture(scope="session")
def fake_spotify_server() -> Iterator[FakeSpotifyServer]:
    """One fake Spotify server for the whole session (tests get it reset via `fake_spotify`)."""
    with FakeSpotifyServer(build_fake_spotify_state()) as server:
        yield server


@pytest.fixture
def fake_spotify(fake_spotify_server: FakeSpotifyServer) -> FakeSpotifyServer:
    """The running fake Spotify, reset to its seeded state for this test."""
    fake_spotify_server.state.reset()
    return fake_spotify_server


@pytest.fixture
def spotify_sleep() -> RecordingSleep:
    """The sleep the `spotify_client` uses: inspect `.calls` to see the waits."""
    return RecordingSleep()


@pytest_asyncio.fixture(loop_scope="session")
async def spotify_client(
    fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
) -> AsyncIterator[SpotifyClient]:
    """A SpotifyClient for the test app, talking to the fake, that never really sleeps."""
    async with SpotifyClient(spotify_client_config(fake_spotify), sleep=spotify_sleep) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def demo_tokens(
    fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
) -> StaticTokenProvider:
    """The demo user's tokens, obtained through the authorization-code flow."""
    return await authorise_user(fake_spotify, spotify_client)
