"""Each endpoint over real HTTP: parsed models, cursors, Dev-Mode errors, playlist chunking."""

from __future__ import annotations

from datetime import UTC

import pytest

from fake_spotify import FakeSpotifyServer
from shared.spotify import (
    SpotifyBadRequestError,
    SpotifyClient,
    SpotifyDevelopmentModeError,
    SpotifyForbiddenError,
    SpotifyNotFoundError,
    StaticTokenProvider,
)
from shared.spotify.models import PlayHistoryItem, SearchType, TimeRange, to_unix_ms
from testkit.spotify import authorise_user


class TestProfile:
    async def test_development_mode_profile_has_no_email(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        user = await spotify_client.get_current_user(demo_tokens)
        assert (user.id, user.display_name) == ("demo", "Demo Listener")
        assert user.email is None
        assert user.uri == "spotify:user:demo"

    async def test_extended_quota_profile_has_email_country_and_product(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        fake_spotify.state.switches.development_mode = False
        user = await spotify_client.get_current_user(demo_tokens)
        assert (user.email, user.country, user.product) == ("demo@example.com", "SE", "premium")
        assert "demo@example.com" not in repr(user)


class TestRecentlyPlayed:
    async def test_page_is_newest_first_with_aware_timestamps(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        page = await spotify_client.get_recently_played(demo_tokens, limit=20)
        stamps = [item.played_at for item in page.items]
        assert len(stamps) == 20
        assert stamps == sorted(stamps, reverse=True)
        assert all(s.tzinfo is not None and s.utcoffset() == UTC.utcoffset(None) for s in stamps)
        assert page.cursors is not None
        assert page.cursors.after_ms == page.items[0].played_at_ms
        assert page.cursors.before_ms == page.items[-1].played_at_ms
        assert any(item.context is None for item in page.items) or all(
            item.context for item in page.items
        )

    async def test_paging_back_with_before_reaches_every_remembered_play(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        seen: list[int] = []
        before: int | None = None
        while True:
            page = await spotify_client.get_recently_played(demo_tokens, limit=15, before=before)
            if not page.items:
                break
            seen.extend(item.played_at_ms for item in page.items)
            assert page.cursors is not None
            before = page.cursors.before_ms
        assert len(seen) == len(set(seen)) == 50
        assert seen == sorted(seen, reverse=True)

    async def test_after_cursor_finds_exactly_the_new_plays(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        newest = (await spotify_client.get_recently_played(demo_tokens, limit=1)).items[0]
        added = fake_spotify.state.add_plays("demo", 7)
        found: list[PlayHistoryItem] = []
        after = newest.played_at
        while True:
            page = await spotify_client.get_recently_played(demo_tokens, limit=3, after=after)
            if not page.items:
                break
            found.extend(reversed(page.items))
            assert page.cursors is not None
            after_ms = page.cursors.after_ms
            assert after_ms is not None
            after = found[-1].played_at
            assert to_unix_ms(after) == after_ms
        assert [item.track.id for item in found] == [play.track_id for play in added]
        assert page.cursors is None

    async def test_after_and_before_together_are_refused_locally(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        with pytest.raises(ValueError, match="not both"):
            await spotify_client.get_recently_played(demo_tokens, after=1, before=2)

    async def test_missing_scope_is_a_plain_forbidden_error(
        self, fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
    ) -> None:
        tokens = await authorise_user(fake_spotify, spotify_client, scopes=["user-top-read"])
        with pytest.raises(SpotifyForbiddenError) as caught:
            await spotify_client.get_recently_played(tokens)
        assert not isinstance(caught.value, SpotifyDevelopmentModeError)


class TestCatalogue:
    async def test_track_artist_and_album_parse_without_dev_mode_fields(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        page = await spotify_client.get_recently_played(demo_tokens, limit=1)
        track_id = page.items[0].track.id
        assert track_id is not None
        track = await spotify_client.get_track(demo_tokens, track_id)
        assert track.isrc == fake_spotify.state.catalogue.tracks[track_id].isrc
        assert track.popularity is None
        assert track.available_markets is None
        assert track.album is not None
        assert track.album.id is not None
        artist = await spotify_client.get_artist(demo_tokens, track.artists[0].id or "")
        assert artist.followers is None
        assert artist.popularity is None
        album = await spotify_client.get_album(demo_tokens, track.album.id)
        assert album.tracks is not None
        assert track_id in [t.id for t in album.tracks.items]

    async def test_extended_quota_fields_are_read_when_present(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        fake_spotify.state.switches.development_mode = False
        artist_id = fake_spotify.state.catalogue.artists_by_rank[0]
        artist = await spotify_client.get_artist(demo_tokens, artist_id)
        assert artist.popularity is not None
        assert artist.followers is not None

    async def test_unknown_ids_are_not_found_and_bad_ids_are_bad_requests(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        with pytest.raises(SpotifyNotFoundError):
            await spotify_client.get_track(demo_tokens, "0000000000000000000000")
        with pytest.raises(SpotifyBadRequestError):
            await spotify_client.get_track(demo_tokens, "not-an-id")
        with pytest.raises(SpotifyNotFoundError):
            await spotify_client.get_track(demo_tokens, "../me")
        assert fake_spotify.state.request_count("/v1/me") == 0

    async def test_search_returns_typed_hits_and_respects_the_dev_mode_limit(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        result = await spotify_client.search(
            demo_tokens, "the", types=[SearchType.TRACK, SearchType.ARTIST]
        )
        assert result.tracks is not None
        assert result.artists is not None
        assert result.albums is None
        assert 0 < len(result.tracks.items) <= 10
        with pytest.raises(SpotifyBadRequestError):
            await spotify_client.search(demo_tokens, "the", limit=11)

    async def test_top_artists_and_tracks(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        artists = await spotify_client.get_top_artists(
            demo_tokens, time_range=TimeRange.SHORT_TERM, limit=5
        )
        tracks = await spotify_client.get_top_tracks(demo_tokens, limit=5, offset=5)
        assert len(artists.items) == 5
        assert tracks.offset == 5
        assert all(t.uri and t.uri.startswith("spotify:track:") for t in tracks.items)


class TestDevelopmentMode:
    async def test_audio_features_403_is_a_development_mode_error(
        self, spotify_client: SpotifyClient, demo_tokens: StaticTokenProvider
    ) -> None:
        page = await spotify_client.get_recently_played(demo_tokens, limit=2)
        ids = [item.track.id or "" for item in page.items]
        with pytest.raises(SpotifyDevelopmentModeError) as single:
            await spotify_client.get_audio_features(demo_tokens, ids[0])
        with pytest.raises(SpotifyDevelopmentModeError):
            await spotify_client.get_several_audio_features(demo_tokens, ids)
        assert single.value.status_code == 403
        assert single.value.endpoint == "/audio-features/{id}"

    async def test_audio_features_parse_when_spotify_allows_them(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        fake_spotify.state.switches.audio_features_enabled = True
        ids = list(fake_spotify.state.catalogue.tracks)[:150]
        features = await spotify_client.get_several_audio_features(demo_tokens, ids)
        assert [f.id if f else None for f in features] == ids
        assert fake_spotify.state.request_count("/v1/audio-features") == 2

    async def test_a_user_missing_from_the_allowlist_is_forbidden(
        self, fake_spotify: FakeSpotifyServer, spotify_client: SpotifyClient
    ) -> None:
        fake_spotify.state.add_user("outsider", "Outsider")
        tokens = await authorise_user(fake_spotify, spotify_client, "outsider")
        with pytest.raises(SpotifyForbiddenError):
            await spotify_client.get_current_user(tokens)


class TestPlaylists:
    async def test_250_uris_go_in_three_ordered_requests_and_all_arrive(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        playlist = await spotify_client.create_playlist(
            demo_tokens, "Everything", description="all of it"
        )
        assert playlist.public is False
        uris = [f"spotify:track:{t}" for t in list(fake_spotify.state.catalogue.tracks)[:250]]
        snapshot = await spotify_client.add_playlist_items(demo_tokens, playlist.id, uris)
        path = f"/v1/playlists/{playlist.id}/items"
        assert fake_spotify.state.request_count(path, method="POST") == 3
        assert snapshot is not None
        assert snapshot.snapshot_id == fake_spotify.state.playlists[playlist.id].snapshot_id
        stored: list[str | None] = []
        offset = 0
        while True:
            page = await spotify_client.get_playlist_items(demo_tokens, playlist.id, offset=offset)
            stored.extend(item.content.uri if item.content else None for item in page.items)
            if page.next is None:
                break
            offset += page.limit
        assert stored == uris

    async def test_chunks_inserted_at_a_position_stay_in_order(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        tracks = [f"spotify:track:{t}" for t in list(fake_spotify.state.catalogue.tracks)[:204]]
        playlist = await spotify_client.create_playlist(demo_tokens, "Sandwich")
        await spotify_client.add_playlist_items(demo_tokens, playlist.id, [tracks[0], tracks[-1]])
        await spotify_client.add_playlist_items(demo_tokens, playlist.id, tracks[1:-1], position=1)
        entries = fake_spotify.state.playlists[playlist.id].entries
        assert [f"spotify:track:{e.track_id}" for e in entries] == tracks

    async def test_no_uris_means_no_request(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        playlist = await spotify_client.create_playlist(demo_tokens, "Empty")
        assert await spotify_client.add_playlist_items(demo_tokens, playlist.id, []) is None
        assert fake_spotify.state.request_count(f"/v1/playlists/{playlist.id}/items") == 0

    async def test_adding_to_someone_elses_playlist_is_forbidden_not_dev_mode(
        self,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        demo_tokens: StaticTokenProvider,
    ) -> None:
        theirs = fake_spotify.state.create_playlist("theo.brandt", "Theo's", public=True)
        uri = f"spotify:track:{next(iter(fake_spotify.state.catalogue.tracks))}"
        with pytest.raises(SpotifyForbiddenError) as caught:
            await spotify_client.add_playlist_items(demo_tokens, theirs.id, [uri])
        assert type(caught.value) is SpotifyForbiddenError
