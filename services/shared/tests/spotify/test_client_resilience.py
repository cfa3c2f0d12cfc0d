"""Retries, backoff and rate limits: what the client does when Spotify struggles."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from fake_spotify import FakeSpotifyServer
from shared.spotify import (
    SpotifyClient,
    SpotifyRateLimitDeferred,
    SpotifyUnavailableError,
    StaticTokenProvider,
)
from testkit.spotify import RecordingSleep, authorise_user, spotify_client_config

NOW = datetime(2026, 11, 27, 3, 22, 41, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def steady_client(
    fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
) -> AsyncIterator[SpotifyClient]:
    """A client with a fixed clock and the largest jitter, so every wait is predictable."""
    config = spotify_client_config(
        fake_spotify, max_retries=3, backoff_base_seconds=0.5, backoff_cap_seconds=1.5
    )
    async with SpotifyClient(
        config, sleep=spotify_sleep, clock=lambda: NOW, jitter=lambda: 1.0
    ) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def steady_tokens(
    fake_spotify: FakeSpotifyServer, steady_client: SpotifyClient
) -> StaticTokenProvider:
    tokens = await authorise_user(fake_spotify, steady_client)
    # The fixed clock is in the past of the fake's; forget the expiry so nothing refreshes early.
    tokens.expires_at = None
    return tokens


class TestServerErrors:
    @pytest.mark.parametrize("status", [500, 502, 503])
    async def test_retries_server_errors_then_succeeds(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
        status: int,
    ) -> None:
        fake_spotify.state.inject_failures(status, count=2)
        user = await steady_client.get_current_user(steady_tokens)
        assert user.id == "demo"
        assert fake_spotify.state.request_count("/v1/me") == 3
        assert spotify_sleep.calls == [0.5, 1.0]

    async def test_backoff_is_exponential_capped_and_bounded(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(500, count=None)
        with pytest.raises(SpotifyUnavailableError) as caught:
            await steady_client.get_current_user(steady_tokens)
        assert caught.value.status_code == 500
        assert fake_spotify.state.request_count("/v1/me") == 4
        assert spotify_sleep.calls == [0.5, 1.0, 1.5]

    async def test_jitter_keeps_each_wait_between_half_and_all_of_the_step(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(fake_spotify, max_retries=4, backoff_base_seconds=1.0)
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            tokens = await authorise_user(fake_spotify, client)
            fake_spotify.state.inject_failures(503, count=None)
            with pytest.raises(SpotifyUnavailableError):
                await client.get_current_user(tokens)
        for attempt, wait in enumerate(spotify_sleep.calls):
            step = min(8.0, 2.0**attempt)
            assert step / 2 <= wait <= step

    async def test_timeouts_are_retried_then_reported(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(fake_spotify, timeout_seconds=0.05, max_retries=1)
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            tokens = await authorise_user(fake_spotify, client)
            fake_spotify.state.switches.response_delay_seconds = 0.3
            with pytest.raises(SpotifyUnavailableError, match="ReadTimeout"):
                await client.get_current_user(tokens)
        assert len(spotify_sleep.calls) == 1

    async def test_connection_errors_are_retried_then_reported(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        config = spotify_client_config(
            fake_spotify, api_base_url=f"http://127.0.0.1:{closed_port}/v1", max_retries=2
        )
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            tokens = StaticTokenProvider.from_pair(client, access_token="a", refresh_token="r")
            with pytest.raises(SpotifyUnavailableError, match="ConnectError"):
                await client.get_current_user(tokens)
        assert len(spotify_sleep.calls) == 2


class TestRateLimits:
    async def test_short_retry_after_is_slept_out(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(429, count=2, retry_after_seconds=7)
        page = await steady_client.get_recently_played(steady_tokens, limit=5)
        assert len(page.items) == 5
        assert spotify_sleep.calls == [7.0, 7.0]

    async def test_long_retry_after_defers_instead_of_sleeping(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(429, count=1, retry_after_seconds=3 * 3600)
        with pytest.raises(SpotifyRateLimitDeferred) as caught:
            await steady_client.get_recently_played(steady_tokens)
        assert caught.value.retry_at == NOW + timedelta(hours=3)
        assert caught.value.retry_at.tzinfo is UTC
        assert caught.value.retry_after_seconds == 3 * 3600
        assert spotify_sleep.calls == []
        assert fake_spotify.state.request_count("/v1/me/player/recently-played") == 1

    async def test_retry_after_at_the_cap_is_still_slept_out(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(429, count=1, retry_after_seconds=60)
        await steady_client.get_current_user(steady_tokens)
        assert spotify_sleep.calls == [60.0]

    async def test_rate_limit_that_outlasts_the_retries_defers(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(429, count=None, retry_after_seconds=2)
        with pytest.raises(SpotifyRateLimitDeferred) as caught:
            await steady_client.get_current_user(steady_tokens)
        assert spotify_sleep.calls == [2.0, 2.0, 2.0]
        assert caught.value.retry_at == NOW + timedelta(seconds=2)

    async def test_token_endpoint_rate_limits_are_honoured_too(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(429, count=1, retry_after_seconds=3, target="accounts")
        await steady_tokens.refresh()
        assert spotify_sleep.calls == [3.0]
        assert fake_spotify.state.request_count("/api/token") == 3
