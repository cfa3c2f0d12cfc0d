"""Behaviour switches and the control API: failures, delays, expiry, counters, reset."""

from __future__ import annotations

import logging

import httpx
import pytest

from fake_spotify import FakeSpotifyServer
from fake_spotify.render import unix_ms
from testkit.spotify import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_REDIRECT_URI

AUTH = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)


class ErrorRecords(logging.Handler):
    """Keeps every error a logger emits, to show that none was."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class TestInjectedFailures:
    def test_next_n_requests_get_429_with_retry_after(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.inject_failures(429, count=2, retry_after_seconds=30)
        statuses = [http.get("/v1/me", headers=demo_headers) for _ in range(3)]
        assert [r.status_code for r in statuses] == [429, 429, 200]
        assert statuses[0].headers["Retry-After"] == "30"
        assert statuses[0].json() == {
            "error": {"status": 429, "message": "API rate limit exceeded"}
        }

    def test_server_errors_until_cleared(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.inject_failures(503, count=None)
        assert [http.get("/v1/me", headers=demo_headers).status_code for _ in range(4)] == [503] * 4
        fake_spotify.state.clear_failures()
        assert http.get("/v1/me", headers=demo_headers).status_code == 200

    def test_api_failures_leave_the_accounts_service_alone(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.inject_failures(500, count=1)
        response = http.post("/api/token", data={"grant_type": "refresh_token"})
        assert response.json()["error"] == "invalid_client"
        fake_spotify.state.inject_failures(502, count=1, target="accounts")
        assert http.post("/api/token", data={}).status_code == 502


class TestResponseDelay:
    def test_a_client_less_patient_than_the_delay_times_out(
        self, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.response_delay_seconds = 0.2
        with (
            httpx.Client(base_url=fake_spotify.base_url, timeout=0.05) as impatient,
            pytest.raises(httpx.ReadTimeout),
        ):
            impatient.get("/v1/me", headers=demo_headers)

    def test_a_client_more_patient_than_the_delay_gets_its_answer(
        self, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.response_delay_seconds = 0.05
        with httpx.Client(base_url=fake_spotify.base_url, timeout=5.0) as patient:
            assert patient.get("/v1/me", headers=demo_headers).json()["id"] == "demo"

    def test_a_client_that_gives_up_during_the_delay_ends_its_request_quietly(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        state = fake_spotify.state
        code = state.issue_code(TEST_CLIENT_ID, "demo", TEST_REDIRECT_URI, ["user-top-read"])
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": TEST_REDIRECT_URI,
        }
        errors = ErrorRecords()
        server_log = logging.getLogger("uvicorn.error")
        server_log.addHandler(errors)
        try:
            state.switches.response_delay_seconds = 0.2
            with pytest.raises(httpx.ReadTimeout):
                http.post("/api/token", data=exchange, auth=AUTH, timeout=0.05)
            fake_spotify.wait_until_idle()
        finally:
            server_log.removeHandler(errors)
        assert errors.records == []
        # Abandoned before its turn came, the exchange was never carried out.
        state.switches.response_delay_seconds = 0
        assert http.post("/api/token", data=exchange, auth=AUTH).status_code == 200


class TestAccessTokenLifetime:
    def test_tokens_expire_after_the_configured_lifetime(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        fake_spotify.state.switches.access_token_lifetime_seconds = 0
        grant = fake_spotify.state.issue_tokens("demo", TEST_CLIENT_ID)
        assert grant.expires_in == 0
        response = http.get("/v1/me", headers={"Authorization": f"Bearer {grant.access_token}"})
        assert response.json() == {"error": {"status": 401, "message": "The access token expired"}}

    def test_expire_access_tokens_ends_current_tokens(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        assert http.get("/v1/me", headers=demo_headers).status_code == 200
        fake_spotify.state.expire_access_tokens("demo")
        assert http.get("/v1/me", headers=demo_headers).status_code == 401


class TestRequestCounter:
    def test_counts_requests_per_path_but_not_control_calls(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        for _ in range(3):
            http.get("/v1/me", headers=demo_headers)
        http.get("/v1/me/player/recently-played", headers=demo_headers)
        http.get("/_control/switches")
        state = fake_spotify.state
        assert state.request_count("/v1/me") == 3
        assert state.request_count("/v1/me", method="POST") == 0
        assert state.request_count("/v1/me/player/recently-played") == 1
        assert http.get("/_control/requests").json()["counts"] == {
            "/v1/me": 3,
            "/v1/me/player/recently-played": 1,
        }


class TestControlApi:
    def test_switches_can_be_read_and_changed_over_http(self, http: httpx.Client) -> None:
        changed = http.post(
            "/_control/switches",
            json={"rotate_refresh_tokens": True, "recently_played_retention": 7},
        ).json()
        assert changed["rotate_refresh_tokens"] is True
        assert changed["development_mode"] is True
        assert http.get("/_control/switches").json()["recently_played_retention"] == 7

    def test_unknown_or_invalid_switches_are_refused(self, http: httpx.Client) -> None:
        assert http.post("/_control/switches", json={"no_such_switch": 1}).status_code == 422
        assert (
            http.post("/_control/switches", json={"access_token_lifetime_seconds": -1}).status_code
            == 422
        )

    def test_failures_over_http(self, http: httpx.Client, demo_headers: dict[str, str]) -> None:
        http.post("/_control/failures", json={"status": 429, "count": 1, "retry_after_seconds": 5})
        limited = http.get("/v1/me", headers=demo_headers)
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "5")
        http.post("/_control/failures", json={"status": 500, "count": None})
        http.delete("/_control/failures")
        assert http.get("/v1/me", headers=demo_headers).status_code == 200

    def test_plays_appended_over_http_are_the_newest(
        self, http: httpx.Client, demo_headers: dict[str, str], fake_spotify: FakeSpotifyServer
    ) -> None:
        before = unix_ms(fake_spotify.state.user("demo").plays[-1].played_at)
        added = http.post("/_control/users/demo/plays", json={"count": 4}).json()["plays"]
        recent = http.get(
            "/v1/me/player/recently-played", params={"after": before}, headers=demo_headers
        ).json()
        assert [i["played_at"] for i in recent["items"]] == [
            p["played_at"] for p in reversed(added)
        ]

    def test_given_plays_over_http(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        track_id = next(iter(fake_spotify.state.catalogue.tracks))
        response = http.post("/_control/users/demo/plays", json={"plays": [{"track_id": track_id}]})
        assert response.json()["plays"][0]["track_id"] == track_id
        stale = http.post(
            "/_control/users/demo/plays",
            json={"plays": [{"track_id": track_id, "played_at": "2020-01-01T00:00:00Z"}]},
        )
        assert stale.status_code == 400

    def test_users_tokens_revocation_and_reset_over_http(
        self, http: httpx.Client, fake_spotify: FakeSpotifyServer
    ) -> None:
        created = http.post(
            "/_control/users", json={"id": "newcomer", "display_name": "New", "history_days": 3}
        ).json()
        assert created["id"] == "newcomer"
        assert created["plays"] > 0
        tokens = http.post("/_control/users/newcomer/tokens", json={}).json()
        me = http.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.json()["display_name"] == "New"
        assert http.post("/_control/users/newcomer/revoke").json() == {"revoked": 1}
        refreshed = http.post(
            "/api/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(TEST_CLIENT_ID, fake_spotify.state.apps[TEST_CLIENT_ID].client_secret),
        )
        assert refreshed.json()["error_description"] == "Refresh token revoked"
        http.post("/_control/reset")
        assert "newcomer" not in fake_spotify.state.users
        assert (
            http.get(
                "/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            ).status_code
            == 401
        )

    def test_allowlist_over_http(self, http: httpx.Client, fake_spotify: FakeSpotifyServer) -> None:
        http.post(
            "/_control/users", json={"id": "guest", "display_name": "Guest", "allowlist_for": []}
        )
        added = http.post(f"/_control/apps/{TEST_CLIENT_ID}/allowlist", json={"user_id": "guest"})
        assert "guest" in added.json()["allowlist"]
        http.post(
            "/_control/users", json={"id": "guest2", "display_name": "G", "allowlist_for": []}
        )
        full = http.post(f"/_control/apps/{TEST_CLIENT_ID}/allowlist", json={"user_id": "guest2"})
        assert full.status_code == 200
        http.post(
            "/_control/users", json={"id": "guest3", "display_name": "G", "allowlist_for": []}
        )
        over = http.post(f"/_control/apps/{TEST_CLIENT_ID}/allowlist", json={"user_id": "guest3"})
        assert over.status_code == 409
        removed = http.delete(f"/_control/apps/{TEST_CLIENT_ID}/allowlist/guest")
        assert "guest" not in removed.json()["allowlist"]

    def test_apps_can_be_registered_over_http(self, http: httpx.Client) -> None:
        ok = http.post(
            "/_control/apps",
            json={
                "client_id": "x",
                "client_secret": "y",
                "redirect_uris": ["https://a.example/cb"],
            },
        )
        refused = http.post(
            "/_control/apps",
            json={"client_id": "x", "client_secret": "y", "redirect_uris": ["http://localhost/cb"]},
        )
        assert ok.status_code == 200
        assert refused.status_code == 400
