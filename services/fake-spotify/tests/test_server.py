"""The background server starts on a free port, serves real HTTP and stops quickly."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from fake_spotify import FakeSpotifyServer, FakeSpotifyState
from fake_spotify.__main__ import parse_args


def test_two_servers_get_their_own_free_ports_and_stop_quickly() -> None:
    state = FakeSpotifyState(catalogue_artists=20, users=())
    with FakeSpotifyServer(state) as first, FakeSpotifyServer(state) as second:
        assert first.port != second.port
        assert first.api_url == f"http://127.0.0.1:{first.port}/v1"
        assert first.accounts_url == first.base_url
        assert httpx.get(f"{second.api_url}/me").status_code == 401
        port = first.port
        started = time.monotonic()
    assert time.monotonic() - started < 2.0
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


def test_command_line_options_for_the_demo() -> None:
    args = parse_args(
        ["--port", "8090", "--seed", "7", "--client-id", "abc", "--client-secret", "s",
         "--redirect-uri", "http://127.0.0.1:8000/auth/callback"]
    )  # fmt: skip
    assert (args.port, args.seed, args.client_id) == (8090, 7, "abc")
    assert args.redirect_uris == ["http://127.0.0.1:8000/auth/callback"]
