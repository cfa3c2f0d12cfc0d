"""Web API behaviour: history window and cursors, top items, search, Dev-Mode rules, playlists."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from fake_spotify import FakeSpotifyServer
from fake_spotify.render import unix_ms
from testkit.spotify import TEST_CLIENT_ID

RECENT = "/v1/me/player/recently-played"


def played_at_list(response: httpx.Response) -> list[str]:
    return [item["played_at"] for item in response.json()["items"]]


class TestRecentlyPlayed:
    def test_only_the_newest_fifty_plays_are_visible(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        plays = fake_spotify.state.user("demo").plays
        assert len(plays) > 500
        response = http.get(
            RECENT,
            params={"before": unix_ms(plays[-1].played_at) + 1, "limit": 50},
            headers=demo_headers,
        )
        older = http.get(
            RECENT,
            params={"before": unix_ms(plays[-50].played_at), "limit": 50},
            headers=demo_headers,
        )
        assert len(response.json()["items"]) == 50
        assert older.json()["items"] == []

    def test_items_are_newest_first_with_millisecond_utc_timestamps(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        stamps = played_at_list(http.get(RECENT, params={"limit": 10}, headers=demo_headers))
        assert stamps == sorted(stamps, reverse=True)
        assert all(len(s) == 24 and s.endswith("Z") and s[19] == "." for s in stamps)

    def test_cursors_are_unix_ms_strings_of_the_page_edges(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        body = http.get(RECENT, params={"limit": 5}, headers=demo_headers).json()
        plays = fake_spotify.state.user("demo").plays
        assert body["cursors"] == {
            "after": str(unix_ms(plays[-1].played_at)),
            "before": str(unix_ms(plays[-5].played_at)),
        }
        assert body["next"].endswith(f"before={body['cursors']['before']}&limit=5")
        assert body["limit"] == 5
        assert body["href"].endswith("/v1/me/player/recently-played?limit=5")

    def test_paging_back_with_before_covers_the_window_exactly_once(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        seen: list[str] = []
        url: str | None = f"{RECENT}?limit=20"
        while url:
            body = http.get(url, headers=demo_headers).json()
            seen.extend(item["played_at"] for item in body["items"])
            url = body["next"]
        assert len(seen) == len(set(seen)) == 50

    def test_after_returns_only_newer_plays_oldest_page_first(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        plays = fake_spotify.state.user("demo").plays
        cursor = unix_ms(plays[-13].played_at)
        first = http.get(RECENT, params={"after": cursor, "limit": 5}, headers=demo_headers).json()
        assert [i["played_at"] for i in first["items"]][-1] > plays[-13].played_at.isoformat()[:19]
        assert first["cursors"]["before"] == str(unix_ms(plays[-12].played_at))
        assert first["next"].endswith(f"after={first['cursors']['after']}&limit=5")
        seen = len(first["items"])
        url = first["next"]
        while url:
            body = http.get(url, headers=demo_headers).json()
            seen += len(body["items"])
            url = body["next"]
        assert seen == 12

    def test_new_plays_are_found_with_the_after_cursor(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        newest = unix_ms(fake_spotify.state.user("demo").plays[-1].played_at)
        added = fake_spotify.state.add_plays("demo", 3)
        body = http.get(RECENT, params={"after": newest}, headers=demo_headers).json()
        assert [i["track"]["id"] for i in body["items"]] == [p.track_id for p in reversed(added)]

    def test_after_and_before_together_are_refused(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        response = http.get(RECENT, params={"after": 1, "before": 2}, headers=demo_headers)
        assert response.status_code == 400

    @pytest.mark.parametrize("limit", ["0", "51", "many"])
    def test_limit_outside_one_to_fifty_is_refused(
        self, http: httpx.Client, demo_headers: dict[str, str], limit: str
    ) -> None:
        response = http.get(RECENT, params={"limit": limit}, headers=demo_headers)
        assert response.status_code == 400
        assert response.json() == {"error": {"status": 400, "message": "Invalid limit"}}

    def test_retention_is_configurable(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.recently_played_retention = 3
        assert len(http.get(RECENT, headers=demo_headers).json()["items"]) == 3

    def test_recently_played_needs_its_scope(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        grant = fake_spotify.state.issue_tokens("demo", TEST_CLIENT_ID, scopes=["user-top-read"])
        response = http.get(RECENT, headers={"Authorization": f"Bearer {grant.access_token}"})
        assert response.status_code == 403


class TestTopItems:
    def test_top_tracks_are_ordered_by_play_count_over_the_range(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        state = fake_spotify.state
        since = state.now() - timedelta(weeks=4)
        counts: dict[str, int] = {}
        for play in state.user("demo").plays:
            if play.played_at >= since:
                counts[play.track_id] = counts.get(play.track_id, 0) + 1
        body = http.get(
            "/v1/me/top/tracks",
            params={"time_range": "short_term", "limit": 5},
            headers=demo_headers,
        ).json()
        top = [item["id"] for item in body["items"]]
        assert [counts[t] for t in top] == sorted(counts.values(), reverse=True)[:5]
        assert body["total"] == len(counts)

    def test_pages_of_top_artists_do_not_overlap(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        first = http.get("/v1/me/top/artists", params={"limit": 10}, headers=demo_headers).json()
        second = http.get(first["next"], headers=demo_headers).json()
        assert first["next"]
        assert second["offset"] == 10
        assert not {a["id"] for a in first["items"]} & {a["id"] for a in second["items"]}

    def test_unknown_time_range_is_refused(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        response = http.get(
            "/v1/me/top/tracks", params={"time_range": "forever"}, headers=demo_headers
        )
        assert response.status_code == 400


class TestCatalogue:
    def test_track_has_uri_isrc_and_album(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        track = next(iter(fake_spotify.state.catalogue.tracks.values()))
        body = http.get(f"/v1/tracks/{track.id}", headers=demo_headers).json()
        assert body["uri"] == f"spotify:track:{track.id}"
        assert body["external_ids"]["isrc"] == track.isrc
        assert body["album"]["id"] == track.album_id

    def test_malformed_and_unknown_ids(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        malformed = http.get("/v1/artists/not-an-id", headers=demo_headers)
        unknown = http.get("/v1/albums/0000000000000000000000", headers=demo_headers)
        assert malformed.json() == {"error": {"status": 400, "message": "Invalid base62 id"}}
        assert unknown.status_code == 404

    def test_search_finds_by_artist_filter(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        artist = fake_spotify.state.catalogue.artists[
            fake_spotify.state.catalogue.artists_by_rank[0]
        ]
        body = http.get(
            "/v1/search",
            params={"q": f'artist:"{artist.name}"', "type": "track", "limit": 10},
            headers=demo_headers,
        ).json()
        assert body["tracks"]["items"]
        assert all(
            artist.id in [a["id"] for a in item["artists"]] for item in body["tracks"]["items"]
        )
        assert set(body) == {"tracks"}

    def test_search_limit_is_ten_in_development_mode_and_fifty_otherwise(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        params: dict[str, str | int] = {"q": "a", "type": "track", "limit": 11}
        assert http.get("/v1/search", params=params, headers=demo_headers).status_code == 400
        fake_spotify.state.switches.development_mode = False
        body = http.get("/v1/search", params=params, headers=demo_headers).json()
        assert len(body["tracks"]["items"]) == 11

    def test_search_needs_a_query_and_a_known_type(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        assert (
            http.get("/v1/search", params={"type": "track"}, headers=demo_headers).status_code
            == 400
        )
        assert (
            http.get(
                "/v1/search", params={"q": "x", "type": "song"}, headers=demo_headers
            ).status_code
            == 400
        )


class TestDevelopmentMode:
    def test_user_not_on_the_allowlist_gets_403(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        state = fake_spotify.state
        state.add_user("outsider", "Not Allowlisted")
        grant = state.issue_tokens("outsider", TEST_CLIENT_ID)
        response = http.get("/v1/me", headers={"Authorization": f"Bearer {grant.access_token}"})
        assert response.status_code == 403
        state.switches.development_mode = False
        response = http.get("/v1/me", headers={"Authorization": f"Bearer {grant.access_token}"})
        assert response.status_code == 200

    def test_allowlist_holds_at_most_five_users(self, fake_spotify: FakeSpotifyServer) -> None:
        state = fake_spotify.state
        for n in range(2):
            state.add_user(f"member{n}", "Member", allowlist_for=[TEST_CLIENT_ID])
        with pytest.raises(ValueError, match="at most 5"):
            state.add_user("member-six", "Member", allowlist_for=[TEST_CLIENT_ID])

    @pytest.mark.parametrize("path", ["/v1/tracks?ids={track}", "/v1/artists?ids={artist}"])
    def test_batch_endpoints_are_removed_unless_extended_quota(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        fake_spotify: FakeSpotifyServer,
        path: str,
    ) -> None:
        track = next(iter(fake_spotify.state.catalogue.tracks.values()))
        url = path.format(track=track.id, artist=track.artist_ids[0])
        assert http.get(url, headers=demo_headers).status_code == 403
        fake_spotify.state.switches.extended_quota = True
        assert http.get(url, headers=demo_headers).status_code == 200

    def test_audio_features_are_forbidden_until_switched_on(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        track_id = next(iter(fake_spotify.state.catalogue.tracks))
        assert http.get(f"/v1/audio-features/{track_id}", headers=demo_headers).status_code == 403
        fake_spotify.state.switches.audio_features_enabled = True
        body = http.get(f"/v1/audio-features/{track_id}", headers=demo_headers).json()
        assert body["id"] == track_id
        assert 0 <= body["valence"] <= 1

    def test_removed_playlist_tracks_endpoint_is_not_served(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        response = http.get("/v1/playlists/0000000000000000000000/tracks", headers=demo_headers)
        assert response.status_code == 404
        assert response.json()["error"]["status"] == 404


class TestPlaylists:
    def _playlist(self, http: httpx.Client, headers: dict[str, str]) -> str:
        created = http.post(
            "/v1/me/playlists",
            json={"name": "Top 2026", "description": "mine", "public": False},
            headers=headers,
        )
        assert created.status_code == 201
        assert created.json()["owner"]["id"] == "demo"
        assert created.json()["public"] is False
        playlist_id: str = created.json()["id"]
        return playlist_id

    def test_items_keep_order_across_requests_and_pages(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        playlist_id = self._playlist(http, demo_headers)
        uris = [f"spotify:track:{t}" for t in list(fake_spotify.state.catalogue.tracks)[:150]]
        for start in (0, 100):
            response = http.post(
                f"/v1/playlists/{playlist_id}/items",
                json={"uris": uris[start : start + 100]},
                headers=demo_headers,
            )
            assert response.status_code == 201
        got: list[str] = []
        url: str | None = f"/v1/playlists/{playlist_id}/items?limit=50"
        while url:
            page = http.get(url, headers=demo_headers).json()
            got.extend(item["item"]["uri"] for item in page["items"])
            url = page["next"]
        assert got == uris

    def test_more_than_one_hundred_items_per_request_are_refused(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        playlist_id = self._playlist(http, demo_headers)
        uris = [f"spotify:track:{t}" for t in list(fake_spotify.state.catalogue.tracks)[:101]]
        response = http.post(
            f"/v1/playlists/{playlist_id}/items", json={"uris": uris}, headers=demo_headers
        )
        assert response.status_code == 400
        assert fake_spotify.state.playlists[playlist_id].entries == []

    def test_uris_in_the_query_win_and_position_inserts(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        playlist_id = self._playlist(http, demo_headers)
        a, b, c = (f"spotify:track:{t}" for t in list(fake_spotify.state.catalogue.tracks)[:3])
        http.post(
            f"/v1/playlists/{playlist_id}/items",
            params={"uris": f"{a},{c}"},
            json={"uris": [b]},
            headers=demo_headers,
        )
        http.post(
            f"/v1/playlists/{playlist_id}/items",
            json={"uris": [b], "position": 1},
            headers=demo_headers,
        )
        items = http.get(f"/v1/playlists/{playlist_id}/items", headers=demo_headers).json()["items"]
        assert [i["item"]["uri"] for i in items] == [a, b, c]

    def test_snapshot_changes_with_each_addition(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        playlist_id = self._playlist(http, demo_headers)
        uri = f"spotify:track:{next(iter(fake_spotify.state.catalogue.tracks))}"
        snapshots = {
            http.post(
                f"/v1/playlists/{playlist_id}/items", json={"uris": [uri]}, headers=demo_headers
            ).json()["snapshot_id"]
            for _ in range(3)
        }
        assert len(snapshots) == 3

    def test_bad_uris_and_foreign_playlists_are_refused(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        playlist_id = self._playlist(http, demo_headers)
        bad = http.post(
            f"/v1/playlists/{playlist_id}/items",
            json={"uris": ["spotify:album:x"]},
            headers=demo_headers,
        )
        assert bad.status_code == 400
        other = fake_spotify.state.issue_tokens("theo.brandt", TEST_CLIENT_ID).access_token
        uri = f"spotify:track:{next(iter(fake_spotify.state.catalogue.tracks))}"
        foreign = http.post(
            f"/v1/playlists/{playlist_id}/items",
            json={"uris": [uri]},
            headers={"Authorization": f"Bearer {other}"},
        )
        assert foreign.status_code == 403

    def test_creating_for_another_user_is_refused(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.extended_quota = True
        response = http.post(
            "/v1/users/theo.brandt/playlists", json={"name": "x"}, headers=demo_headers
        )
        assert response.status_code == 403

    def test_creating_for_a_user_is_removed_in_development_mode(
        self, http: httpx.Client, demo_headers: dict[str, str]
    ) -> None:
        response = http.post("/v1/users/demo/playlists", json={"name": "x"}, headers=demo_headers)
        assert response.status_code == 403

    def test_owners_read_their_private_playlist_without_a_read_scope(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        writer = fake_spotify.state.issue_tokens(
            "demo", TEST_CLIENT_ID, scopes=["playlist-modify-private"]
        )
        headers = {"Authorization": f"Bearer {writer.access_token}"}
        playlist_id = self._playlist(http, headers)
        uri = f"spotify:track:{next(iter(fake_spotify.state.catalogue.tracks))}"
        http.post(f"/v1/playlists/{playlist_id}/items", json={"uris": [uri]}, headers=headers)
        items = http.get(f"/v1/playlists/{playlist_id}/items", headers=headers)
        assert items.status_code == 200
        assert [item["item"]["uri"] for item in items.json()["items"]] == [uri]
