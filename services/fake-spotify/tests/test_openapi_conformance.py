"""Every Web API response the fake sends validates against Spotify's OpenAPI description."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from fake_spotify import FakeSpotifyServer
from fake_spotify.render import unix_ms
from testkit.spotify import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_REDIRECT_URI

if TYPE_CHECKING:
    from conftest import SpotifyOpenApi


def _some_track(fake: FakeSpotifyServer) -> str:
    return fake.state.user("demo").plays[-1].track_id


@pytest.fixture(params=[True, False], ids=["development-mode", "extended-quota"])
def mode(request: pytest.FixtureRequest, fake_spotify: FakeSpotifyServer) -> bool:
    """Run a test as a Development-Mode app and as an app with extended quota."""
    development = bool(request.param)
    fake_spotify.state.switches.development_mode = development
    fake_spotify.state.switches.extended_quota = not development
    fake_spotify.state.switches.audio_features_enabled = not development
    return development


class TestUserEndpoints:
    def test_current_user_profile_matches(
        self, http: httpx.Client, demo_headers: dict[str, str], openapi: SpotifyOpenApi, mode: bool
    ) -> None:
        response = http.get("/v1/me", headers=demo_headers)
        openapi.validate_response("/me", "get", response)
        assert ("email" in response.json()) is not mode

    def test_recently_played_matches(
        self, http: httpx.Client, demo_headers: dict[str, str], openapi: SpotifyOpenApi, mode: bool
    ) -> None:
        response = http.get("/v1/me/player/recently-played?limit=50", headers=demo_headers)
        openapi.validate_response("/me/player/recently-played", "get", response)
        contexts = [item["context"] for item in response.json()["items"]]
        assert None in contexts or all(contexts)

    def test_empty_recently_played_page_matches(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
    ) -> None:
        newest = fake_spotify.state.user("demo").plays[-1].played_at
        after = unix_ms(newest) + 1
        response = http.get(
            "/v1/me/player/recently-played", params={"after": after}, headers=demo_headers
        )
        openapi.validate_response("/me/player/recently-played", "get", response)
        assert response.json()["items"] == []
        assert response.json()["cursors"] is None

    @pytest.mark.parametrize("kind", ["artists", "tracks"])
    @pytest.mark.parametrize("time_range", ["short_term", "medium_term", "long_term"])
    def test_top_items_match(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        kind: str,
        time_range: str,
    ) -> None:
        response = http.get(
            f"/v1/me/top/{kind}",
            params={"time_range": time_range, "limit": 5},
            headers=demo_headers,
        )
        openapi.validate_response(f"/me/top/{kind}", "get", response)
        assert response.json()["items"]


class TestCatalogueEndpoints:
    def test_track_matches(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
        mode: bool,
    ) -> None:
        response = http.get(f"/v1/tracks/{_some_track(fake_spotify)}", headers=demo_headers)
        openapi.validate_response("/tracks/{id}", "get", response)
        body = response.json()
        assert ("popularity" in body) is not mode
        assert ("available_markets" in body) is not mode

    def test_artist_matches(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
        mode: bool,
    ) -> None:
        artist_id = fake_spotify.state.catalogue.artists_by_rank[0]
        response = http.get(f"/v1/artists/{artist_id}", headers=demo_headers)
        openapi.validate_response("/artists/{id}", "get", response)
        assert ("followers" in response.json()) is not mode

    def test_album_matches(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
        mode: bool,
    ) -> None:
        album_id = next(iter(fake_spotify.state.catalogue.albums))
        response = http.get(f"/v1/albums/{album_id}", headers=demo_headers)
        openapi.validate_response("/albums/{id}", "get", response)

    def test_search_matches(
        self, http: httpx.Client, demo_headers: dict[str, str], openapi: SpotifyOpenApi, mode: bool
    ) -> None:
        response = http.get(
            "/v1/search",
            params={"q": "the", "type": "track,artist,album,playlist", "limit": 10},
            headers=demo_headers,
        )
        openapi.validate_response("/search", "get", response)
        assert response.json()["tracks"]["items"]

    def test_audio_features_match_when_allowed(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
        mode: bool,
    ) -> None:
        track_id = _some_track(fake_spotify)
        single = http.get(f"/v1/audio-features/{track_id}", headers=demo_headers)
        several = http.get("/v1/audio-features", params={"ids": track_id}, headers=demo_headers)
        openapi.validate_response("/audio-features/{id}", "get", single)
        openapi.validate_response("/audio-features", "get", several)
        assert single.status_code == several.status_code == (403 if mode else 200)

    def test_batch_tracks_and_artists_match_when_allowed(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
        mode: bool,
    ) -> None:
        track_id = _some_track(fake_spotify)
        artist_id = fake_spotify.state.catalogue.tracks[track_id].artist_ids[0]
        tracks = http.get("/v1/tracks", params={"ids": track_id}, headers=demo_headers)
        artists = http.get("/v1/artists", params={"ids": artist_id}, headers=demo_headers)
        openapi.validate_response("/tracks", "get", tracks)
        openapi.validate_response("/artists", "get", artists)
        assert tracks.status_code == artists.status_code == (403 if mode else 200)


class TestPlaylistEndpoints:
    def test_create_add_and_read_match(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
    ) -> None:
        created = http.post("/v1/me/playlists", json={"name": "Mix"}, headers=demo_headers)
        openapi.validate_response("/me/playlists", "post", created)
        playlist_id = created.json()["id"]
        uri = f"spotify:track:{_some_track(fake_spotify)}"
        added = http.post(
            f"/v1/playlists/{playlist_id}/items", json={"uris": [uri]}, headers=demo_headers
        )
        openapi.validate_response("/playlists/{playlist_id}/items", "post", added)
        items = http.get(f"/v1/playlists/{playlist_id}/items", headers=demo_headers)
        openapi.validate_response("/playlists/{playlist_id}/items", "get", items)
        assert items.json()["items"][0]["item"]["uri"] == uri

    def test_create_for_user_matches_with_extended_quota(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
    ) -> None:
        fake_spotify.state.switches.extended_quota = True
        created = http.post("/v1/users/demo/playlists", json={"name": "Old"}, headers=demo_headers)
        openapi.validate_response("/users/{user_id}/playlists", "post", created)
        assert created.status_code == 201


class TestErrorBodies:
    def test_missing_invalid_and_expired_tokens_match(
        self,
        http: httpx.Client,
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
    ) -> None:
        fake_spotify.state.switches.access_token_lifetime_seconds = 0
        expired = fake_spotify.state.issue_tokens("demo", TEST_CLIENT_ID).access_token
        responses = [
            http.get("/v1/me"),
            http.get("/v1/me", headers={"Authorization": "Bearer nope"}),
            http.get("/v1/me", headers={"Authorization": f"Bearer {expired}"}),
        ]
        for response in responses:
            openapi.validate_response("/me", "get", response)
            openapi.validate_error(response)
        assert [r.json()["error"]["message"] for r in responses] == [
            "No token provided",
            "Invalid access token",
            "The access token expired",
        ]

    def test_bad_request_and_not_found_match(
        self, http: httpx.Client, demo_headers: dict[str, str], openapi: SpotifyOpenApi
    ) -> None:
        bad = http.get("/v1/me/player/recently-played?limit=51", headers=demo_headers)
        missing = http.get("/v1/tracks/0000000000000000000000", headers=demo_headers)
        assert (bad.status_code, missing.status_code) == (400, 404)
        openapi.validate_error(bad)
        openapi.validate_error(missing)

    def test_rate_limit_matches(
        self,
        http: httpx.Client,
        demo_headers: dict[str, str],
        openapi: SpotifyOpenApi,
        fake_spotify: FakeSpotifyServer,
    ) -> None:
        fake_spotify.state.inject_failures(429, retry_after_seconds=7)
        response = http.get("/v1/me", headers=demo_headers)
        openapi.validate_response("/me", "get", response)
        assert response.headers["Retry-After"] == "7"


class TestTokenEndpoint:
    def _code(self, http: httpx.Client, fake: FakeSpotifyServer) -> str:
        fake.state.switches.auto_approve_user_id = "demo"
        response = http.get(
            "/authorize",
            params={
                "client_id": TEST_CLIENT_ID,
                "response_type": "code",
                "redirect_uri": TEST_REDIRECT_URI,
                "scope": "user-read-recently-played",
            },
        )
        return httpx.URL(response.headers["location"]).params["code"]

    def test_code_exchange_and_refresh_match(
        self, http: httpx.Client, openapi: SpotifyOpenApi, fake_spotify: FakeSpotifyServer
    ) -> None:
        exchanged = http.post(
            "/api/token",
            data={
                "grant_type": "authorization_code",
                "code": self._code(http, fake_spotify),
                "redirect_uri": TEST_REDIRECT_URI,
            },
            auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        )
        openapi.validate_schema("TokenResponse", exchanged.json())
        assert exchanged.json()["expires_in"] == 3600
        refreshed = http.post(
            "/api/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": exchanged.json()["refresh_token"],
            },
            auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        )
        openapi.validate_schema("TokenResponse", refreshed.json())
        assert "refresh_token" not in refreshed.json()

    def test_token_errors_match(self, http: httpx.Client, openapi: SpotifyOpenApi) -> None:
        auth = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)
        responses = [
            http.post(
                "/api/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=auth
            ),
            http.post("/api/token", data={"grant_type": "password"}, auth=auth),
            http.post("/api/token", data={"grant_type": "authorization_code"}, auth=auth),
            http.post(
                "/api/token", data={"grant_type": "refresh_token"}, auth=(TEST_CLIENT_ID, "wrong")
            ),
        ]
        for response in responses:
            openapi.validate_schema("TokenErrorResponse", response.json())
        assert [(r.status_code, r.json()["error"]) for r in responses] == [
            (400, "invalid_grant"),
            (400, "unsupported_grant_type"),
            (400, "invalid_request"),
            (400, "invalid_client"),
        ]
