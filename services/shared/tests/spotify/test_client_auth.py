"""Authorization and tokens: the URL, code exchange, refresh on 401, rotation, invalid_grant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fake_spotify import FakeSpotifyServer
from shared.spotify import (
    SpotifyClient,
    SpotifyInvalidClientError,
    SpotifyInvalidGrantError,
    SpotifyUnauthorizedError,
    StaticTokenProvider,
)
from shared.spotify.constants import DEFAULT_SCOPES
from testkit.spotify import (
    TEST_CLIENT_ID,
    TEST_REDIRECT_URI,
    RecordingSleep,
    spotify_client_config,
)


async def authorization_code(fake: FakeSpotifyServer, client: SpotifyClient) -> str:
    fake.state.switches.auto_approve_user_id = "demo"
    async with httpx.AsyncClient() as browser:
        response = await browser.get(client.authorize_url("s"))
    return httpx.URL(response.headers["location"]).params["code"]


class TestAuthorizeUrl:
    def test_url_carries_client_redirect_state_and_scopes(
        self, spotify_client: SpotifyClient, fake_spotify: FakeSpotifyServer
    ) -> None:
        url = httpx.URL(
            spotify_client.authorize_url(
                "st4te", scopes=["user-read-recently-played", "user-top-read"], show_dialog=True
            )
        )
        assert str(url).startswith(f"{fake_spotify.accounts_url}/authorize?")
        assert dict(url.params) == {
            "client_id": TEST_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": TEST_REDIRECT_URI,
            "state": "st4te",
            "scope": "user-read-recently-played user-top-read",
            "show_dialog": "true",
        }
        assert "%20" in str(url)


class TestScopes:
    def test_the_service_asks_for_exactly_the_scopes_it_uses(self) -> None:
        assert sorted(DEFAULT_SCOPES) == sorted(
            [
                "user-read-recently-played",
                "user-top-read",
                "user-read-private",
                "user-read-email",
                "playlist-modify-public",
                "playlist-modify-private",
            ]
        )
        assert len(set(DEFAULT_SCOPES)) == len(DEFAULT_SCOPES)

    async def test_the_default_scopes_let_a_user_write_and_read_back_their_playlist(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        assert demo_tokens.tokens.scopes == frozenset(DEFAULT_SCOPES)
        uri = f"spotify:track:{next(iter(fake_spotify.state.catalogue.tracks))}"
        playlist = await spotify_client.create_playlist(demo_tokens, "Mine", public=False)
        await spotify_client.add_playlist_items(demo_tokens, playlist.id, [uri])
        page = await spotify_client.get_playlist_items(demo_tokens, playlist.id)
        assert [item.content.uri for item in page.items if item.content] == [uri]


class TestCodeExchange:
    async def test_exchange_returns_tokens_for_the_user(
        self, fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
    ) -> None:
        tokens = await spotify_client.exchange_code(
            await authorization_code(fake_spotify, spotify_client)
        )
        assert tokens.token_type == "Bearer"
        assert tokens.expires_in == 3600
        assert tokens.refresh_token
        assert "user-read-recently-played" in tokens.scopes
        assert tokens.access_token not in repr(tokens)

    async def test_a_used_code_is_invalid_grant(
        self, fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
    ) -> None:
        code = await authorization_code(fake_spotify, spotify_client)
        await spotify_client.exchange_code(code)
        with pytest.raises(SpotifyInvalidGrantError) as caught:
            await spotify_client.exchange_code(code)
        assert caught.value.error == "invalid_grant"
        assert caught.value.status_code == 400

    async def test_a_wrong_secret_is_invalid_client(
        self, fake_spotify: FakeSpotifyServer, spotify_sleep: RecordingSleep
    ) -> None:
        config = spotify_client_config(fake_spotify, client_secret="not-the-secret")
        async with SpotifyClient(config, sleep=spotify_sleep) as client:
            with pytest.raises(SpotifyInvalidClientError) as caught:
                await client.exchange_code(await authorization_code(fake_spotify, client))
        assert caught.value.status_code == 400
        assert caught.value.error == "invalid_client"
        assert "Invalid client secret" in str(caught.value)


class TestRefreshOnUnauthorized:
    async def test_expired_access_token_is_refreshed_once_then_the_call_succeeds(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        before = demo_tokens.tokens.access_token
        fake_spotify.state.expire_access_tokens("demo")
        user = await spotify_client.get_current_user(demo_tokens)
        assert user.id == "demo"
        assert demo_tokens.refresh_count == 1
        assert demo_tokens.tokens.access_token != before
        assert fake_spotify.state.request_count("/v1/me") == 2

    async def test_a_second_401_raises_after_one_refresh(
        self, fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
    ) -> None:
        fake_spotify.state.switches.access_token_lifetime_seconds = 0
        granted = fake_spotify.state.issue_tokens("demo", TEST_CLIENT_ID)
        assert granted.refresh_token is not None
        # No known expiry: the provider only learns about expiry from Spotify's 401s.
        tokens = StaticTokenProvider.from_pair(
            spotify_client, access_token=granted.access_token, refresh_token=granted.refresh_token
        )
        with pytest.raises(SpotifyUnauthorizedError) as caught:
            await spotify_client.get_current_user(tokens)
        assert caught.value.status_code == 401
        assert tokens.refresh_count == 1
        assert fake_spotify.state.request_count("/v1/me") == 2
        assert fake_spotify.state.request_count("/api/token") == 1

    async def test_a_revoked_refresh_token_surfaces_as_invalid_grant(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        fake_spotify.state.revoke_refresh_tokens("demo")
        fake_spotify.state.expire_access_tokens("demo")
        with pytest.raises(SpotifyInvalidGrantError) as caught:
            await spotify_client.get_recently_played(demo_tokens)
        assert "invalid_grant" in str(caught.value)
        assert "revoked" in str(caught.value)
        assert fake_spotify.state.request_count("/api/token") == 2

    async def test_token_known_to_expire_is_refreshed_before_the_call(
        self, fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
    ) -> None:
        granted = fake_spotify.state.issue_tokens("demo", TEST_CLIENT_ID)
        assert granted.refresh_token is not None
        tokens = StaticTokenProvider.from_pair(
            spotify_client,
            access_token=granted.access_token,
            refresh_token=granted.refresh_token,
            expires_at=datetime.now(UTC) + timedelta(seconds=30),
        )
        await spotify_client.get_current_user(tokens)
        assert tokens.refresh_count == 1
        assert fake_spotify.state.request_count("/v1/me") == 1


class TestRotation:
    async def test_without_rotation_the_refresh_token_is_kept(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        original = demo_tokens.refresh_token
        await demo_tokens.refresh()
        await demo_tokens.refresh()
        assert demo_tokens.refresh_token == original
        assert demo_tokens.tokens.refresh_token == original
        assert demo_tokens.rotation_count == 0

    async def test_with_rotation_the_newest_refresh_token_is_kept_and_used(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        fake_spotify.state.switches.rotate_refresh_tokens = True
        original = demo_tokens.refresh_token
        await demo_tokens.refresh()
        rotated = demo_tokens.refresh_token
        assert rotated != original
        await demo_tokens.refresh()
        assert demo_tokens.rotation_count == 2
        with pytest.raises(SpotifyInvalidGrantError):
            await spotify_client.refresh_access_token(original)

    async def test_refresh_response_tells_whether_it_rotated(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        kept = await spotify_client.refresh_access_token(demo_tokens.refresh_token)
        fake_spotify.state.switches.rotate_refresh_tokens = True
        rotated = await spotify_client.refresh_access_token(demo_tokens.refresh_token)
        assert kept.refresh_token is None
        assert rotated.refresh_token is not None
