"""The spotify.* tools against the fake Spotify: live top items, search, complete playlists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import AppSettings
from fake_spotify import FakeSpotifyServer
from shared.crypto import TokenEncryptor
from shared.db.enums import PlaySource, UserStatus
from shared.db.models import SpotifyToken, User
from shared.spotify import SpotifyClient
from testkit.factories import create_artist, create_play, create_track, create_user
from testkit.spotify import DEMO_USER_ID, authorise_user, spotify_client_config

from .conftest import call


@pytest.fixture
async def listener(
    db_session: AsyncSession, fake_spotify: FakeSpotifyServer, api_settings: AppSettings
) -> User:
    """The fake's demo listener, logged in: real tokens from the fake, stored encrypted."""
    async with SpotifyClient(spotify_client_config(fake_spotify)) as spotify:
        grant = (await authorise_user(fake_spotify, spotify)).tokens
    encryptor = TokenEncryptor.from_settings(api_settings)
    user = await create_user(db_session, spotify_user_id=DEMO_USER_ID, timezone="UTC")
    db_session.add(
        SpotifyToken(
            user_id=user.id,
            access_token_encrypted=encryptor.encrypt(grant.access_token),
            refresh_token_encrypted=encryptor.encrypt(grant.refresh_token or ""),
            scope=grant.scope,
            expires_at=datetime.now(UTC) + timedelta(seconds=grant.expires_in),
        )
    )
    await db_session.flush()
    return user


def catalogue_ids(fake: FakeSpotifyServer, count: int) -> list[str]:
    """`count` real track IDs of the fake's catalogue."""
    ids = list(fake.state.catalogue.tracks)[:count]
    assert len(ids) == count
    return ids


class TestCreatePlaylist:
    async def test_250_tracks_arrive_complete_and_in_order(
        self, tools: httpx.AsyncClient, listener: User, fake_spotify: FakeSpotifyServer
    ) -> None:
        track_ids = catalogue_ids(fake_spotify, 250)
        response = await call(
            tools,
            "spotify.create_playlist",
            {"user_id": listener.id, "name": "Everything", "track_ids": track_ids},
        )
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["tracks_added"] == 250
        playlist = fake_spotify.state.playlists[result["playlist_id"]]
        assert [entry.track_id for entry in playlist.entries] == track_ids
        assert playlist.owner_id == DEMO_USER_ID
        assert playlist.public is False
        # Three requests of at most 100: nothing cut short at 100.
        adds = fake_spotify.state.request_count(
            f"/v1/playlists/{result['playlist_id']}/items", "POST"
        )
        assert adds == 3

    async def test_from_the_top_tracks_of_a_window(
        self,
        tools: httpx.AsyncClient,
        listener: User,
        fake_spotify: FakeSpotifyServer,
        db_session: AsyncSession,
    ) -> None:
        first, second = catalogue_ids(fake_spotify, 2)
        artist = await create_artist(db_session, name="Someone")
        often = await create_track(db_session, id=first, name="Often", artists=[artist])
        once = await create_track(db_session, id=second, name="Once", artists=[artist])
        unknown = await create_track(db_session, id="local:" + "a" * 40, name="Export only")
        summer = datetime(2025, 7, 1, 12, tzinfo=UTC)
        for day in range(3):
            await create_play(
                db_session, user=listener, track=often, played_at=summer + timedelta(days=day)
            )
        await create_play(db_session, user=listener, track=once, played_at=summer)
        await create_play(
            db_session,
            user=listener,
            track=unknown,
            played_at=summer + timedelta(hours=1),
            source=PlaySource.ACCOUNT_EXPORT,
        )
        await create_play(  # outside the window
            db_session, user=listener, track=once, played_at=datetime(2025, 10, 1, tzinfo=UTC)
        )
        response = await call(
            tools,
            "spotify.create_playlist",
            {
                "user_id": listener.id,
                "name": "Summer 2025",
                "start": "2025-06-01",
                "end": "2025-08-31",
            },
        )
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["tracks_added"] == 2
        assert result["skipped_without_spotify_id"] == 1
        playlist = fake_spotify.state.playlists[result["playlist_id"]]
        assert [entry.track_id for entry in playlist.entries] == [first, second]

    async def test_an_empty_window_makes_no_playlist(
        self, tools: httpx.AsyncClient, listener: User, fake_spotify: FakeSpotifyServer
    ) -> None:
        response = await call(
            tools, "spotify.create_playlist", {"user_id": listener.id, "name": "Nothing"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "nothing_to_add"
        assert fake_spotify.state.playlists == {}

    async def test_track_ids_must_look_like_spotify_ids(
        self, tools: httpx.AsyncClient, listener: User
    ) -> None:
        response = await call(
            tools,
            "spotify.create_playlist",
            {"user_id": listener.id, "name": "Bad", "track_ids": ["../../me"]},
        )
        assert response.status_code == 422


class TestLiveReads:
    async def test_top_artists_and_tracks(self, tools: httpx.AsyncClient, listener: User) -> None:
        for kind in ("artists", "tracks"):
            response = await call(
                tools,
                "spotify.get_top",
                {"user_id": listener.id, "kind": kind, "time_range": "short_term", "limit": 5},
            )
            assert response.status_code == 200, response.text
            items = response.json()["result"]["items"]
            assert 1 <= len(items) <= 5
            assert all(item["name"] for item in items)

    async def test_search_is_capped_at_ten(
        self, tools: httpx.AsyncClient, listener: User, fake_spotify: FakeSpotifyServer
    ) -> None:
        track = next(iter(fake_spotify.state.catalogue.tracks.values()))
        response = await call(
            tools, "spotify.search", {"user_id": listener.id, "query": track.name, "limit": 10}
        )
        assert response.status_code == 200, response.text
        items = response.json()["result"]["items"]
        assert 1 <= len(items) <= 10
        assert all(item["uri"].startswith("spotify:track:") for item in items)
        too_many = await call(
            tools, "spotify.search", {"user_id": listener.id, "query": "a", "limit": 11}
        )
        assert too_many.status_code == 422


class TestFailures:
    async def test_a_user_who_must_log_in_again_is_told_so(
        self, tools: httpx.AsyncClient, listener: User, db_session: AsyncSession
    ) -> None:
        listener.status = UserStatus.REAUTH_REQUIRED
        await db_session.flush()
        response = await call(tools, "spotify.get_top", {"user_id": listener.id})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "reauth_required"

    async def test_a_revoked_login_marks_the_user_and_stops(
        self,
        tools: httpx.AsyncClient,
        listener: User,
        fake_spotify: FakeSpotifyServer,
        db_session: AsyncSession,
    ) -> None:
        fake_spotify.state.revoke_refresh_tokens(DEMO_USER_ID)
        fake_spotify.state.expire_access_tokens(DEMO_USER_ID)
        response = await call(tools, "spotify.get_top", {"user_id": listener.id})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "reauth_required"
        await db_session.refresh(listener)
        assert listener.status == UserStatus.REAUTH_REQUIRED

    async def test_spotify_asking_to_wait_hours_is_a_clear_error(
        self, tools: httpx.AsyncClient, listener: User, fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.inject_failures(429, count=5, retry_after_seconds=7200)
        response = await call(tools, "spotify.get_top", {"user_id": listener.id})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "spotify_rate_limited"
        assert "7200" in response.json()["error"]["message"]

    async def test_an_import_only_user_has_no_live_tools(
        self, tools: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        response = await call(tools, "spotify.search", {"user_id": user.id, "query": "x"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "no_spotify_login"
