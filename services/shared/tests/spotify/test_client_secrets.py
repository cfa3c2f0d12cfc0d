"""No token, secret, code or e-mail address ever appears in an error or a repr."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable

import httpx
import pytest

from fake_spotify import FakeSpotifyServer
from shared.logging.redaction import EMAIL_MASK, REDACTED
from shared.spotify import (
    SpotifyBadRequestError,
    SpotifyClient,
    SpotifyClientConfig,
    SpotifyError,
    SpotifyForbiddenError,
    SpotifyResponseError,
    StaticTokenProvider,
)
from testkit.spotify import (
    TEST_CLIENT_SECRET,
    RecordingSleep,
    authorise_user,
    spotify_client_config,
)


def mock_config() -> SpotifyClientConfig:
    return SpotifyClientConfig(
        client_id="mock", client_secret=TEST_CLIENT_SECRET, redirect_uri="https://x.example/cb"
    )


def everything_said_about(error: BaseException) -> str:
    """The message, the repr and the whole traceback, chained causes included."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


async def capture(call: Callable[[], Awaitable[object]]) -> SpotifyError:
    with pytest.raises(SpotifyError) as caught:
        await call()
    return caught.value


async def test_no_secret_leaks_from_any_failure(
    fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient, spotify_sleep: RecordingSleep
) -> None:
    state = fake_spotify.state
    state.switches.development_mode = False
    tokens = await authorise_user(fake_spotify, spotify_client)
    secrets = {tokens.tokens.access_token, tokens.refresh_token, TEST_CLIENT_SECRET}
    failures: list[SpotifyError] = []

    state.inject_failures(500, count=None)
    failures.append(await capture(lambda: spotify_client.get_current_user(tokens)))
    state.clear_failures()
    state.inject_failures(429, retry_after_seconds=86_400)
    failures.append(await capture(lambda: spotify_client.get_recently_played(tokens)))
    failures.append(await capture(lambda: spotify_client.get_audio_features(tokens, "x" * 22)))
    failures.append(await capture(lambda: spotify_client.search(tokens, "q", limit=51)))
    failures.append(await capture(lambda: spotify_client.exchange_code("AQ-used-code-123")))
    state.revoke_refresh_tokens("demo")
    state.expire_access_tokens("demo")
    failures.append(await capture(lambda: spotify_client.get_current_user(tokens)))
    async with SpotifyClient(
        spotify_client_config(fake_spotify, client_secret="wrong-secret-abc"), sleep=spotify_sleep
    ) as wrong:
        failures.append(await capture(lambda: wrong.refresh_access_token(tokens.refresh_token)))
    secrets |= {"AQ-used-code-123", "wrong-secret-abc", "demo@example.com"}

    assert len({type(f) for f in failures}) >= 6
    for failure in failures:
        said = everything_said_about(failure)
        for secret in secrets:
            assert secret not in said, f"{type(failure).__name__} leaks a secret"


def test_reprs_hide_tokens_and_secrets(
    fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
) -> None:
    provider = StaticTokenProvider.from_pair(
        spotify_client, access_token="BQ-access-xyz", refresh_token="AQ-refresh-xyz"
    )
    shown = " ".join(
        [repr(spotify_client.config), repr(spotify_client), repr(provider), repr(provider.tokens)]
    )
    for secret in ("BQ-access-xyz", "AQ-refresh-xyz", TEST_CLIENT_SECRET):
        assert secret not in shown


async def test_an_error_body_echoing_a_token_is_scrubbed() -> None:
    # Spotify never echoes credentials, but a proxy in between might; messages stay clean.
    def echo(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        message = f"token {token} for listener@example.com is not allowed"
        return httpx.Response(403, json={"error": {"status": 403, "message": message}})

    config = mock_config()
    async with SpotifyClient(config, transport=httpx.MockTransport(echo)) as client:
        tokens = StaticTokenProvider.from_pair(client, access_token="BQ-echoed", refresh_token="r")
        with pytest.raises(SpotifyForbiddenError) as caught:
            await client.get_current_user(tokens)
    said = everything_said_about(caught.value)
    assert "BQ-echoed" not in said
    assert "listener@example.com" not in said
    assert str(caught.value) == (
        f"GET /me failed with 403: token {REDACTED} for {EMAIL_MASK} is not allowed"
    )


async def test_credentials_the_client_never_held_are_masked_like_in_the_logs() -> None:
    # A proxy's error page may quote someone else's token, a Basic header or an address;
    # the client cannot know those values, so the logs' redaction has to catch them.
    leaked = {
        "refresh_token=AQ-someone-elses-token",
        "ZmFrZS1jbGllbnQ6ZmFrZS1zZWNyZXQ",
        "203.0.113.7",
    }

    def proxy(request: httpx.Request) -> httpx.Response:
        message = (
            "upstream refused refresh_token=AQ-someone-elses-token "
            "(Authorization: Basic ZmFrZS1jbGllbnQ6ZmFrZS1zZWNyZXQ) from 203.0.113.7"
        )
        return httpx.Response(400, json={"error": {"status": 400, "message": message}})

    async with SpotifyClient(mock_config(), transport=httpx.MockTransport(proxy)) as client:
        tokens = StaticTokenProvider.from_pair(
            client, access_token="BQ-own-access", refresh_token="AQ-own-refresh"
        )
        with pytest.raises(SpotifyBadRequestError) as caught:
            await client.get_current_user(tokens)
    said = everything_said_about(caught.value)
    for value in leaked:
        assert value not in said
    assert "upstream refused" in str(caught.value)


async def test_an_unexpected_payload_is_reported_without_its_content() -> None:
    def odd(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"display_name": "private@example.com"})

    async with SpotifyClient(mock_config(), transport=httpx.MockTransport(odd)) as client:
        tokens = StaticTokenProvider.from_pair(client, access_token="a", refresh_token="r")
        with pytest.raises(SpotifyResponseError) as caught:
            await client.get_current_user(tokens)
    assert "private@example.com" not in everything_said_about(caught.value)
    assert "id" in str(caught.value)
