"""The seeded catalogue and listening histories: deterministic, realistic, well-formed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from fake_spotify import FakeSpotifyState
from fake_spotify.catalogue import build_catalogue, is_base62_id
from fake_spotify.render import format_timestamp

ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")


class TestCatalogue:
    def test_the_same_seed_gives_the_same_catalogue(self) -> None:
        first, second = build_catalogue(7, artist_count=40), build_catalogue(7, artist_count=40)
        assert first.tracks == second.tracks
        assert first.artists == second.artists
        assert first.albums == second.albums

    def test_another_seed_gives_another_catalogue(self) -> None:
        assert build_catalogue(1, 40).artists_by_rank != build_catalogue(2, 40).artists_by_rank

    def test_ids_uris_and_isrcs_look_like_spotify(self) -> None:
        catalogue = build_catalogue(42)
        assert len(catalogue.artists) >= 200
        assert len(catalogue.albums) >= 300
        assert len(catalogue.tracks) >= 1000
        ids = [*catalogue.tracks, *catalogue.albums, *catalogue.artists]
        assert len(ids) == len(set(ids))
        assert all(is_base62_id(i) for i in ids)
        for track in catalogue.tracks.values():
            assert track.uri == f"spotify:track:{track.id}"
            assert ISRC.match(track.isrc), track.isrc
            assert 60_000 < track.duration_ms < 600_000

    def test_some_tracks_credit_several_artists_and_some_artists_have_no_genres(self) -> None:
        catalogue = build_catalogue(42)
        assert any(len(t.artist_ids) > 1 for t in catalogue.tracks.values())
        assert any(not a.genres for a in catalogue.artists.values())

    def test_audio_features_are_stable(self) -> None:
        catalogue = build_catalogue(42, 20)
        track_id = next(iter(catalogue.tracks))
        assert catalogue.audio_features(track_id) == catalogue.audio_features(track_id)


class TestHistories:
    def test_seeded_histories_are_sorted_unique_and_utc(self) -> None:
        state = FakeSpotifyState()
        for user in state.users.values():
            stamps = [p.played_at for p in user.plays]
            assert stamps == sorted(stamps)
            assert len(stamps) == len(set(stamps))
            assert all(s.tzinfo is UTC and s.microsecond % 1000 == 0 for s in stamps)

    def test_demo_user_has_months_of_plays_with_a_skewed_taste(self) -> None:
        state = FakeSpotifyState()
        plays = state.user("demo").plays
        assert plays[-1].played_at - plays[0].played_at > timedelta(days=100)
        artists = Counter(state.catalogue.tracks[p.track_id].artist_ids[0] for p in plays)
        top_five = sum(count for _, count in artists.most_common(5))
        assert top_five > len(plays) * 0.2
        assert len(artists) > 50

    def test_listening_follows_a_daily_rhythm(self) -> None:
        plays = FakeSpotifyState().user("demo").plays
        hours = Counter(p.played_at.hour for p in plays)
        assert hours[19] + hours[20] > 3 * (hours[3] + hours[4])

    def test_the_same_seed_and_clock_give_the_same_history(self) -> None:
        moment = datetime(2026, 11, 27, 3, 22, 41, tzinfo=UTC)
        first = FakeSpotifyState(seed=3, clock=lambda: moment).user("demo").plays
        second = FakeSpotifyState(seed=3, clock=lambda: moment).user("demo").plays
        assert first == second

    def test_added_plays_are_newer_than_the_history_and_end_now(self) -> None:
        moment = datetime(2026, 11, 27, 3, 22, 41, 123456, tzinfo=UTC)
        state = FakeSpotifyState(clock=lambda: moment)
        newest = state.user("demo").plays[-1].played_at
        added = state.add_plays("demo", 5)
        assert newest < added[0].played_at < added[-1].played_at
        assert added[-1].played_at == moment.replace(microsecond=123000)

    def test_reset_restores_the_seeded_history(self) -> None:
        state = FakeSpotifyState()
        seeded = list(state.user("demo").plays)
        state.add_plays("demo", 3)
        state.reset()
        assert state.user("demo").plays == seeded


def test_played_at_format_matches_spotify() -> None:
    moment = datetime(2026, 11, 27, 3, 22, 41, 123456, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-11-27T03:22:41.123Z"
