"""The state file: what the fake handed out before a restart still works after it."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from fake_spotify import FakeSpotifyServer, FakeSpotifyState
from testkit.spotify import TEST_CLIENT_ID, TEST_CLIENT_SECRET, build_fake_spotify_state

AUTH = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)


def restarted(path: Path) -> FakeSpotifyState:
    """A fresh state reading the file, as after the fake's process restarted."""
    return build_fake_spotify_state(state_file=path)


def refresh(server: FakeSpotifyServer, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{server.accounts_url}/api/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=AUTH,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestRestart:
    def test_a_refresh_token_issued_before_a_restart_still_works(self, tmp_path: Path) -> None:
        path = tmp_path / "fake-spotify.json"
        with FakeSpotifyServer(build_fake_spotify_state(state_file=path)) as before:
            granted = before.state.issue_tokens("demo", TEST_CLIENT_ID)
            assert granted.refresh_token is not None
        with FakeSpotifyServer(restarted(path)) as after:
            me = httpx.get(f"{after.api_url}/me", headers=bearer(granted.access_token))
            refreshed = refresh(after, granted.refresh_token)
        assert me.json()["id"] == "demo"
        assert refreshed.status_code == 200
        assert refreshed.json()["scope"] == granted.scope

    def test_without_a_state_file_a_restart_forgets_every_token(self) -> None:
        with FakeSpotifyServer(build_fake_spotify_state()) as before:
            granted = before.state.issue_tokens("demo", TEST_CLIENT_ID)
            assert granted.refresh_token is not None
        with FakeSpotifyServer(build_fake_spotify_state()) as after:
            assert refresh(after, granted.refresh_token).json()["error"] == "invalid_grant"

    def test_rotation_and_revocation_are_remembered(self, tmp_path: Path) -> None:
        path = tmp_path / "fake-spotify.json"
        state = build_fake_spotify_state(state_file=path)
        state.switches.rotate_refresh_tokens = True
        first = state.issue_tokens("demo", TEST_CLIENT_ID)
        assert first.refresh_token is not None
        rotated = state.refresh(first.refresh_token, TEST_CLIENT_ID)
        assert rotated.refresh_token is not None
        other = state.issue_tokens("theo.brandt", TEST_CLIENT_ID)
        assert other.refresh_token is not None
        state.revoke_refresh_tokens("theo.brandt")
        with FakeSpotifyServer(restarted(path)) as after:
            assert refresh(after, rotated.refresh_token).status_code == 200
            retired = refresh(after, first.refresh_token).json()
            revoked = refresh(after, other.refresh_token).json()
        assert retired["error_description"] == "Refresh token revoked"
        assert revoked["error_description"] == "Refresh token revoked"

    def test_playlists_and_added_plays_are_remembered(self, tmp_path: Path) -> None:
        path = tmp_path / "fake-spotify.json"
        state = build_fake_spotify_state(state_file=path)
        playlist = state.create_playlist("demo", "Kept", public=False)
        tracks = list(state.catalogue.tracks)[:3]
        snapshot = state.add_playlist_items(playlist.id, tracks, "demo", None)
        added = state.add_plays("demo", 4)
        again = restarted(path)
        kept = again.playlists[playlist.id]
        assert (kept.name, kept.public, kept.snapshot_id) == ("Kept", False, snapshot)
        assert [entry.track_id for entry in kept.entries] == tracks
        assert again.users["demo"].plays[-4:] == added
        assert len(again.users["demo"].plays) == len(state.users["demo"].plays)

    def test_a_reset_empties_the_file_too(self, tmp_path: Path) -> None:
        path = tmp_path / "fake-spotify.json"
        state = build_fake_spotify_state(state_file=path)
        granted = state.issue_tokens("demo", TEST_CLIENT_ID)
        assert granted.refresh_token is not None
        state.reset()
        with FakeSpotifyServer(restarted(path)) as after:
            assert refresh(after, granted.refresh_token).json()["error"] == "invalid_grant"


class TestFile:
    def test_the_file_is_readable_by_its_owner_only(self, tmp_path: Path) -> None:
        path = tmp_path / "fake-spotify.json"
        build_fake_spotify_state(state_file=path).issue_tokens("demo", TEST_CLIENT_ID)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_an_existing_readable_file_is_replaced_by_a_private_one(self, tmp_path: Path) -> None:
        path = tmp_path / "fake-spotify.json"
        path.write_text("{}", encoding="utf-8")
        path.chmod(0o644)
        build_fake_spotify_state(state_file=path).issue_tokens("demo", TEST_CLIENT_ID)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_every_change_replaces_the_file_whole(self, tmp_path: Path) -> None:
        path = tmp_path / "fake-spotify.json"
        state = build_fake_spotify_state(state_file=path)
        granted = state.issue_tokens("demo", TEST_CLIENT_ID)
        assert granted.access_token in path.read_text(encoding="utf-8")
        assert [p.name for p in tmp_path.iterdir()] == ["fake-spotify.json"]
