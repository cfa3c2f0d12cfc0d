"""The background server starts on a free port, serves real HTTP and stops; the demo's CLI."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from fake_spotify import FakeSpotifyServer, FakeSpotifyState
from fake_spotify.__main__ import (
    CLIENT_SECRET_ENV,
    StartupError,
    build_state,
    client_secret,
    main,
    parse_args,
)


def test_two_servers_get_their_own_free_ports_and_stop_despite_an_open_connection() -> None:
    state = FakeSpotifyState(catalogue_artists=20, users=())
    with httpx.Client() as keep_alive:
        with FakeSpotifyServer(state) as first, FakeSpotifyServer(state) as second:
            assert first.port != second.port
            assert first.api_url == f"http://127.0.0.1:{first.port}/v1"
            assert first.accounts_url == first.base_url
            assert httpx.get(f"{second.api_url}/me").status_code == 401
            # An idle keep-alive connection must not hold the shutdown back.
            assert keep_alive.get(f"{first.api_url}/me").status_code == 401
            port = first.port
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))


def test_a_given_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with FakeSpotifyServer(
        FakeSpotifyState(catalogue_artists=20, users=()), port=free_port
    ) as server:
        assert server.port == free_port
        assert httpx.get(f"{server.base_url}/_control/switches").status_code == 200


def test_port_is_unknown_before_start() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeSpotifyServer(FakeSpotifyState(catalogue_artists=20, users=())).port


class TestCommandLine:
    def test_command_line_options_for_the_demo(self, tmp_path: Path) -> None:
        args = parse_args(
            ["--port", "8090", "--seed", "7", "--client-id", "abc",
             "--redirect-uri", "http://127.0.0.1:8000/auth/callback",
             "--state-file", str(tmp_path / "fake.json")]
        )  # fmt: skip
        assert (args.port, args.seed, args.client_id) == (8090, 7, "abc")
        assert args.redirect_uris == ["http://127.0.0.1:8000/auth/callback"]
        assert args.state_file == tmp_path / "fake.json"

    def test_the_client_secret_comes_from_the_environment(self) -> None:
        args = parse_args([])
        assert client_secret(args, {CLIENT_SECRET_ENV: "from-the-environment"}) == (
            "from-the-environment"
        )

    def test_the_flag_wins_over_the_environment(self) -> None:
        args = parse_args(["--client-secret", "from-the-flag"])
        assert client_secret(args, {CLIENT_SECRET_ENV: "from-the-environment"}) == "from-the-flag"

    def test_the_fake_refuses_to_start_without_a_client_secret(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.delenv(CLIENT_SECRET_ENV, raising=False)
        assert main(["--port", "0"]) == 2
        assert CLIENT_SECRET_ENV in capsys.readouterr().err

    def test_help_tells_where_the_secret_comes_from_and_which_wins(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit):
            parse_args(["--help"])
        shown = " ".join(capsys.readouterr().out.split())
        assert CLIENT_SECRET_ENV in shown
        assert "the flag wins" in shown

    def test_the_environment_secret_is_the_one_the_fake_accepts(self) -> None:
        state = build_state(parse_args(["--client-id", "demo-app"]), {CLIENT_SECRET_ENV: "s3"})
        assert state.authenticate_client("demo-app", "s3").client_id == "demo-app"

    def test_an_unreadable_state_file_stops_the_start(self, tmp_path: Path) -> None:
        broken = tmp_path / "fake.json"
        broken.write_text('{"refresh_grants": "AQ-half-written', encoding="utf-8")
        args = parse_args(["--client-secret", "s", "--state-file", str(broken)])
        with pytest.raises(StartupError, match="not a fake Spotify state file") as caught:
            build_state(args, {})
        assert "AQ-half-written" not in str(caught.value)
