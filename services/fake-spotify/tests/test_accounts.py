"""The Accounts service: consent page, redirects, codes and refresh tokens behave like Spotify's."""

from __future__ import annotations

import base64

import httpx
import pytest

from fake_spotify import FakeSpotifyServer, FakeSpotifyState, RegisteredApp
from testkit.spotify import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_REDIRECT_URI

AUTH = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_id": TEST_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": TEST_REDIRECT_URI,
        "state": "st4te",
        "scope": "user-read-recently-played user-top-read",
    }
    return params | overrides


def code_for(http: httpx.Client, fake: FakeSpotifyServer, user_id: str = "demo") -> str:
    fake.state.switches.auto_approve_user_id = user_id
    response = http.get("/authorize", params=authorize_params())
    assert response.status_code == 302
    return httpx.URL(response.headers["location"]).params["code"]


def exchange(
    http: httpx.Client, code: str, redirect_uri: str = TEST_REDIRECT_URI
) -> httpx.Response:
    return http.post(
        "/api/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        auth=AUTH,
    )


def refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return http.post(
        "/api/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=AUTH,
    )


class TestAuthorizePage:
    def test_consent_page_lists_scopes_and_seeded_users(self, http: httpx.Client) -> None:
        response = http.get("/authorize", params=authorize_params())
        assert response.status_code == 200
        assert "user-read-recently-played" in response.text
        assert "Demo Listener" in response.text
        assert 'name="decision" value="accept"' in response.text

    def test_agreeing_redirects_with_code_and_state(self, http: httpx.Client) -> None:
        form = {
            "client_id": TEST_CLIENT_ID,
            "redirect_uri": TEST_REDIRECT_URI,
            "scope": "user-top-read",
            "state": "st4te",
            "user_id": "theo.brandt",
            "decision": "accept",
        }
        response = http.post("/authorize", data=form)
        location = httpx.URL(response.headers["location"])
        assert response.status_code == 303
        assert str(location).startswith(TEST_REDIRECT_URI)
        assert location.params["state"] == "st4te"
        tokens = exchange(http, location.params["code"]).json()
        assert tokens["scope"] == "user-top-read"

    def test_cancelling_redirects_with_access_denied(self, http: httpx.Client) -> None:
        form = {
            "client_id": TEST_CLIENT_ID,
            "redirect_uri": TEST_REDIRECT_URI,
            "state": "st4te",
            "user_id": "demo",
            "decision": "cancel",
        }
        response = http.post("/authorize", data=form)
        location = httpx.URL(response.headers["location"])
        assert dict(location.params) == {"error": "access_denied", "state": "st4te"}

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"client_id": "unknown"}, "INVALID_CLIENT: Invalid client"),
            (
                {"redirect_uri": "http://127.0.0.1:8000/other"},
                "INVALID_CLIENT: Invalid redirect URI",
            ),
            ({"redirect_uri": TEST_REDIRECT_URI + "/"}, "INVALID_CLIENT: Invalid redirect URI"),
        ],
    )
    def test_unknown_client_or_unregistered_redirect_is_an_error_page(
        self, http: httpx.Client, overrides: dict[str, str], message: str
    ) -> None:
        response = http.get("/authorize", params=authorize_params(**overrides))
        assert response.status_code == 400
        assert message in response.text
        assert "location" not in response.headers

    def test_unsupported_response_type_and_unknown_scope_redirect_with_errors(
        self, http: httpx.Client
    ) -> None:
        token = http.get("/authorize", params=authorize_params(response_type="token"))
        scope = http.get("/authorize", params=authorize_params(scope="read-everything"))
        assert httpx.URL(token.headers["location"]).params["error"] == "unsupported_response_type"
        assert httpx.URL(scope.headers["location"]).params["error"] == "invalid_scope"

    def test_auto_approve_redirects_at_once(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.auto_approve_user_id = "demo"
        response = http.get("/authorize", params=authorize_params())
        location = httpx.URL(response.headers["location"])
        assert response.status_code == 302
        assert location.params["state"] == "st4te"
        assert location.params["code"].startswith("AQ")


class TestRedirectUriRegistration:
    @pytest.mark.parametrize(
        "uri", ["http://localhost:8000/cb", "http://example.com/cb", "ftp://127.0.0.1/cb"]
    )
    def test_insecure_redirect_uris_are_refused(self, uri: str) -> None:
        with pytest.raises(ValueError, match="https"):
            FakeSpotifyState(apps=[RegisteredApp("id", "secret", frozenset({uri}))])

    @pytest.mark.parametrize("uri", ["https://music.example.com/cb", "http://127.0.0.1:9/cb"])
    def test_https_and_loopback_redirect_uris_are_accepted(self, uri: str) -> None:
        state = FakeSpotifyState(apps=[RegisteredApp("id", "secret", frozenset({uri}))])
        assert uri in state.apps["id"].redirect_uris


class TestAuthorizationCode:
    def test_code_exchange_returns_spotify_token_body(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        response = exchange(http, code_for(http, fake_spotify))
        body = response.json()
        assert response.status_code == 200
        assert set(body) == {"access_token", "token_type", "scope", "expires_in", "refresh_token"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert body["scope"] == "user-read-recently-played user-top-read"

    def test_a_code_works_only_once(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        code = code_for(http, fake_spotify)
        assert exchange(http, code).status_code == 200
        second = exchange(http, code)
        assert second.status_code == 400
        assert second.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid authorization code",
        }

    def test_redirect_uri_must_match_the_one_used_at_authorize(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        response = exchange(http, code_for(http, fake_spotify), "http://127.0.0.1:8000/other")
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid redirect URI",
        }

    def test_an_expired_code_is_refused(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.authorization_code_lifetime_seconds = 0
        response = exchange(http, code_for(http, fake_spotify))
        assert response.json()["error"] == "invalid_grant"

    def test_client_credentials_may_come_in_the_body(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        response = http.post(
            "/api/token",
            data={
                "grant_type": "authorization_code",
                "code": code_for(http, fake_spotify),
                "redirect_uri": TEST_REDIRECT_URI,
                "client_id": TEST_CLIENT_ID,
                "client_secret": TEST_CLIENT_SECRET,
            },
        )
        assert response.status_code == 200

    @pytest.mark.parametrize(
        ("authorization", "description"),
        [
            (None, "Invalid client"),
            (
                "Basic " + base64.b64encode(f"{TEST_CLIENT_ID}:wrong".encode()).decode(),
                "Invalid client secret",
            ),
            ("Basic " + base64.b64encode(b"someone-else:secret").decode(), "Invalid client"),
            ("Basic not-base64!", "Invalid client"),
        ],
    )
    def test_bad_client_credentials_are_invalid_client_400_like_spotify(
        self, http: httpx.Client, authorization: str | None, description: str
    ) -> None:
        headers = {"Authorization": authorization} if authorization else {}
        response = http.post(
            "/api/token",
            data={"grant_type": "refresh_token", "refresh_token": "x"},
            headers=headers,
        )
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_client", "error_description": description}

    def test_a_wrong_secret_in_the_body_is_invalid_client_secret(self, http: httpx.Client) -> None:
        response = http.post(
            "/api/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "x",
                "client_id": TEST_CLIENT_ID,
                "client_secret": "wrong",
            },
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_client",
            "error_description": "Invalid client secret",
        }

    def test_missing_or_unknown_grant_type_is_unsupported(self, http: httpx.Client) -> None:
        missing = http.post("/api/token", data={}, auth=AUTH)
        unknown = http.post("/api/token", data={"grant_type": "password"}, auth=AUTH)
        assert missing.json() == {
            "error": "unsupported_grant_type",
            "error_description": "grant_type parameter is missing",
        }
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "unsupported_grant_type"


class TestRefreshToken:
    def _tokens(self, http: httpx.Client, fake: FakeSpotifyServer) -> dict[str, str]:
        body: dict[str, str] = exchange(http, code_for(http, fake)).json()
        return body

    def test_refresh_without_rotation_keeps_the_refresh_token(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        tokens = self._tokens(http, fake_spotify)
        first = refresh(http, tokens["refresh_token"])
        second = refresh(http, tokens["refresh_token"])
        assert first.status_code == second.status_code == 200
        assert "refresh_token" not in first.json()
        assert first.json()["access_token"] != tokens["access_token"]
        assert first.json()["scope"] == tokens["scope"]

    def test_rotation_hands_out_a_new_refresh_token_and_retires_the_old(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.rotate_refresh_tokens = True
        tokens = self._tokens(http, fake_spotify)
        rotated = refresh(http, tokens["refresh_token"]).json()
        assert rotated["refresh_token"] != tokens["refresh_token"]
        assert refresh(http, rotated["refresh_token"]).status_code == 200
        reused = refresh(http, tokens["refresh_token"])
        assert reused.status_code == 400
        assert reused.json() == {
            "error": "invalid_grant",
            "error_description": "Refresh token revoked",
        }

    def test_revoked_refresh_token_is_invalid_grant(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        tokens = self._tokens(http, fake_spotify)
        assert fake_spotify.state.revoke_refresh_tokens("demo") == 1
        response = refresh(http, tokens["refresh_token"])
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "Refresh token revoked",
        }

    def test_unknown_refresh_token_is_invalid_grant(self, http: httpx.Client) -> None:
        response = refresh(http, "AQ-not-a-token")
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid refresh token",
        }

    def test_missing_refresh_token_is_invalid_request(self, http: httpx.Client) -> None:
        response = http.post("/api/token", data={"grant_type": "refresh_token"}, auth=AUTH)
        assert response.json() == {
            "error": "invalid_request",
            "error_description": "refresh_token must be supplied",
        }

    def test_new_access_token_works_on_the_web_api(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        tokens = self._tokens(http, fake_spotify)
        access = refresh(http, tokens["refresh_token"]).json()["access_token"]
        me = http.get("/v1/me", headers={"Authorization": f"Bearer {access}"})
        assert me.json()["id"] == "demo"
