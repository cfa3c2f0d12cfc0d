"""Retries, backoff and rate limits: what the client does when Spotify struggles."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
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


def closed_port_url() -> str:
    """A loopback URL nothing listens on: every request fails to connect."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def authorization_code(fake: FakeSpotifyServer, client: SpotifyClient) -> str:
    """A fresh authorization code for the demo user, from the fake's consent step."""
    fake.state.switches.auto_approve_user_id = "demo"
    async with httpx.AsyncClient() as browser:
        response = await browser.get(client.authorize_url("st4te"))
    return httpx.URL(response.headers["location"]).params["code"]


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
        config = spotify_client_config(
            fake_spotify, api_base_url=f"{closed_port_url()}/v1", max_retries=2
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


class TestRequestsThatMustNotRepeat:
    """Exchanges, refreshes and playlist writes are repeated only when they never took effect."""

    async def test_code_exchange_after_a_server_error_is_not_retried(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        spotify_sleep: RecordingSleep,
    ) -> None:
        code = await authorization_code(fake_spotify, steady_client)
        fake_spotify.state.inject_failures(500, count=1, target="accounts")
        with pytest.raises(SpotifyUnavailableError, match="outcome is unknown") as caught:
            await steady_client.exchange_code(code)
        assert caught.value.status_code == 500
        assert caught.value.outcome_unknown
        assert fake_spotify.state.request_count("/api/token") == 1
        assert spotify_sleep.calls == []

    async def test_code_exchange_after_a_read_timeout_is_not_retried(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(fake_spotify, timeout_seconds=0.05)
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            code = await authorization_code(fake_spotify, client)
            fake_spotify.state.switches.response_delay_seconds = 0.3
            with pytest.raises(SpotifyUnavailableError, match="ReadTimeout") as caught:
                await client.exchange_code(code)
        assert caught.value.outcome_unknown
        assert fake_spotify.state.request_count("/api/token") == 1
        assert spotify_sleep.calls == []

    async def test_code_exchange_that_never_connected_is_retried(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(
            fake_spotify, accounts_base_url=closed_port_url(), max_retries=2
        )
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            with pytest.raises(SpotifyUnavailableError, match="ConnectError") as caught:
                await client.exchange_code("AQ-some-code")
        assert not caught.value.outcome_unknown
        assert len(spotify_sleep.calls) == 2

    async def test_code_exchange_waits_out_a_rate_limit(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        spotify_sleep: RecordingSleep,
    ) -> None:
        code = await authorization_code(fake_spotify, steady_client)
        fake_spotify.state.inject_failures(429, count=1, retry_after_seconds=2, target="accounts")
        tokens = await steady_client.exchange_code(code)
        assert tokens.refresh_token
        assert spotify_sleep.calls == [2.0]

    @pytest.mark.parametrize("status", [500, 503])
    async def test_refresh_after_a_server_error_is_not_retried(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
        status: int,
    ) -> None:
        fake_spotify.state.switches.rotate_refresh_tokens = True
        before = fake_spotify.state.request_count("/api/token")
        fake_spotify.state.inject_failures(status, count=1, target="accounts")
        with pytest.raises(SpotifyUnavailableError, match="outcome is unknown"):
            await steady_tokens.refresh()
        assert fake_spotify.state.request_count("/api/token") == before + 1
        assert spotify_sleep.calls == []

    async def test_refresh_after_a_read_timeout_is_not_retried(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(fake_spotify, timeout_seconds=0.05)
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            tokens = await authorise_user(fake_spotify, client)
            fake_spotify.state.switches.response_delay_seconds = 0.3
            with pytest.raises(SpotifyUnavailableError, match="ReadTimeout"):
                await tokens.refresh()
        assert fake_spotify.state.request_count("/api/token") == 2
        assert spotify_sleep.calls == []

    async def test_refresh_that_never_connected_is_retried(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(
            fake_spotify, accounts_base_url=closed_port_url(), max_retries=2
        )
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            with pytest.raises(SpotifyUnavailableError, match="ConnectError"):
                await client.refresh_access_token("AQ-some-refresh-token")
        assert len(spotify_sleep.calls) == 2

    async def test_playlist_creation_after_a_server_error_is_not_retried(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(502, count=1)
        with pytest.raises(SpotifyUnavailableError, match="outcome is unknown") as caught:
            await steady_client.create_playlist(steady_tokens, "Once only")
        assert caught.value.status_code == 502
        assert fake_spotify.state.request_count("/v1/me/playlists", method="POST") == 1
        assert spotify_sleep.calls == []

    async def test_adding_items_after_a_server_error_is_not_retried(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        playlist = await steady_client.create_playlist(steady_tokens, "Once only")
        uris = [f"spotify:track:{t}" for t in list(fake_spotify.state.catalogue.tracks)[:150]]
        fake_spotify.state.inject_failures(500, count=1)
        with pytest.raises(SpotifyUnavailableError, match="outcome is unknown"):
            await steady_client.add_playlist_items(steady_tokens, playlist.id, uris)
        path = f"/v1/playlists/{playlist.id}/items"
        assert fake_spotify.state.request_count(path, method="POST") == 1
        assert spotify_sleep.calls == []

    async def test_playlist_write_after_a_read_timeout_is_not_retried(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(fake_spotify, timeout_seconds=0.05)
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            tokens = await authorise_user(fake_spotify, client)
            fake_spotify.state.switches.response_delay_seconds = 0.3
            with pytest.raises(SpotifyUnavailableError, match="ReadTimeout") as caught:
                await client.create_playlist(tokens, "Once only")
        assert caught.value.outcome_unknown
        assert fake_spotify.state.request_count("/v1/me/playlists", method="POST") == 1
        assert spotify_sleep.calls == []

    async def test_playlist_write_that_never_connected_is_retried(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(
            fake_spotify, api_base_url=f"{closed_port_url()}/v1", max_retries=2
        )
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            tokens = StaticTokenProvider.from_pair(client, access_token="a", refresh_token="r")
            with pytest.raises(SpotifyUnavailableError, match="ConnectError"):
                await client.create_playlist(tokens, "Once only")
        assert len(spotify_sleep.calls) == 2

    async def test_playlist_write_waits_out_a_rate_limit(
        self,
        fake_spotify: FakeSpotifyServer,
        steady_client: SpotifyClient,
        steady_tokens: StaticTokenProvider,
        spotify_sleep: RecordingSleep,
    ) -> None:
        fake_spotify.state.inject_failures(429, count=1, retry_after_seconds=4)
        playlist = await steady_client.create_playlist(steady_tokens, "After the wait")
        assert playlist.name == "After the wait"
        assert spotify_sleep.calls == [4.0]
        assert fake_spotify.state.request_count("/v1/me/playlists", method="POST") == 2
        assert len(fake_spotify.state.playlists) == 1

    async def test_reads_are_still_retried_after_a_read_timeout(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(fake_spotify, timeout_seconds=0.05, max_retries=1)
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            tokens = await authorise_user(fake_spotify, client)
            fake_spotify.state.switches.response_delay_seconds = 0.3
            with pytest.raises(SpotifyUnavailableError, match="ReadTimeout") as caught:
                await client.get_playlist_items(tokens, "0" * 22)
        assert not caught.value.outcome_unknown
        assert fake_spotify.state.request_count("/v1/playlists/0000000000000000000000/items") == 2
