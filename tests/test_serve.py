"""`spotify-mcp serve` and `demo` as a person runs them: start, answer, stop, leave nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx
import pytest

STARTUP_DEADLINE_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _processes_in_group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) start with state, ppid, pgrp.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def _parent(pid: int) -> int:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _wait_until_up(urls: list[str], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    pending = list(urls)
    while pending:
        if process.poll() is not None:
            raise AssertionError(f"exited early with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not answering: {pending}")
        url = pending[0]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                pending.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


class RunningSystem:
    """The command line started in its own process group, like a terminal's foreground job."""

    def __init__(self, command: str, workdir: Path, extra_env: dict[str, str]) -> None:
        self.api_port, self.frontend_port, self.fake_port = _free_port(), _free_port(), _free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SPOTIFY_", "DATABASE_", "ADMIN_", "PUBLIC_", "API_"))
        }
        env.update(
            API_PORT=str(self.api_port),
            FRONTEND_PORT=str(self.frontend_port),
            FAKE_SPOTIFY_PORT=str(self.fake_port),
            LOG_LEVEL="INFO",
        )
        env.update(extra_env)
        self.log = workdir / "output.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "spotify_mcp", command],
            cwd=workdir,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.process.pid

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def frontend(self) -> str:
        return f"http://127.0.0.1:{self.frontend_port}"

    def ctrl_c(self) -> int:
        """What a terminal does on Ctrl-C: SIGINT to every process of the foreground group."""
        os.killpg(self.pgid, signal.SIGINT)
        return self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.pgid, signal.SIGKILL)
            self.process.wait()
        self._log_file.close()


class StartSystem(Protocol):
    def __call__(self, command: str, **extra_env: str) -> RunningSystem: ...


@pytest.fixture
def start_system(tmp_path: Path) -> Iterator[StartSystem]:
    """Starts `spotify-mcp <command>` in a temporary folder; kills what is left afterwards."""
    started: list[RunningSystem] = []

    def start(command: str, **extra_env: str) -> RunningSystem:
        system = RunningSystem(command, tmp_path, extra_env)
        started.append(system)
        return system

    yield start
    for system in started:
        system.close()


class TestServe:
    def test_answers_health_checks_and_ctrl_c_leaves_no_process(
        self, start_system: StartSystem, tmp_path: Path
    ) -> None:
        system = start_system("serve")
        _wait_until_up([f"{system.api}/healthz", f"{system.frontend}/healthz"], system.process)
        assert len(_processes_in_group(system.pgid)) >= 4  # supervisor, api, frontend, collector

        home = httpx.get(f"{system.frontend}/", timeout=5, follow_redirects=True)
        assert "SPOTIFY_CLIENT_ID" in home.text  # tells the person how to configure Spotify

        assert system.ctrl_c() == 0
        assert _processes_in_group(system.pgid) == []
        output = system.log.read_text()
        assert "Spotify is not configured" in output
        assert "secrets.env" in output
        assert (tmp_path / "data" / "spotify-mcp.db").exists()
        secrets = (tmp_path / "data" / "secrets.env").read_text()
        token = re.search(r"^ADMIN_TOKEN=(.+)$", secrets, re.MULTILINE)
        assert token is not None
        assert token.group(1) not in output  # the log says where, never what

    def test_api_workers_share_the_port_and_stop_with_it(self, start_system: StartSystem) -> None:
        system = start_system("serve", API_WORKERS="2")
        _wait_until_up([f"{system.api}/healthz", f"{system.frontend}/healthz"], system.process)
        api = [
            pid
            for pid in _processes_in_group(system.pgid)
            if b"spotify_mcp\x00api" in _cmdline(pid)
        ]
        assert len(api) == 1
        workers = [
            pid
            for pid in _processes_in_group(system.pgid)
            if _parent(pid) == api[0] and b"spawn_main" in _cmdline(pid)
        ]
        assert len(workers) == 2
        for _ in range(10):
            assert httpx.get(f"{system.api}/healthz", timeout=5).status_code == 200
        assert system.ctrl_c() == 0
        assert _processes_in_group(system.pgid) == []

    def test_sigterm_to_the_supervisor_alone_stops_every_service(
        self, start_system: StartSystem
    ) -> None:
        system = start_system("serve")
        _wait_until_up([f"{system.api}/healthz", f"{system.frontend}/healthz"], system.process)
        system.process.send_signal(signal.SIGTERM)
        assert system.process.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while _processes_in_group(system.pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_in_group(system.pgid) == []


class TestDemo:
    def test_a_person_can_log_in_through_the_fake_spotify(self, start_system: StartSystem) -> None:
        system = start_system("demo")
        _wait_until_up([f"{system.api}/healthz", f"{system.frontend}/healthz"], system.process)
        command_lines = [
            (Path("/proc") / str(pid) / "cmdline").read_bytes()
            for pid in _processes_in_group(system.pgid)
        ]
        assert any(b"fake_spotify" in line for line in command_lines)
        assert not any(b"--client-secret" in line for line in command_lines)  # not shown in ps
        with httpx.Client(timeout=10) as browser:
            status = browser.get(f"{system.api}/status").json()
            assert status["spotify_configured"] is True
            assert status["demo_mode"] is True

            to_spotify = browser.get(f"{system.api}/auth/login")
            assert to_spotify.status_code == 303
            consent = browser.get(to_spotify.headers["location"])
            assert consent.status_code == 200
            assert "Demo Listener" in consent.text
            action = re.search(r'<form[^>]*action="([^"]+)"', consent.text)
            assert action is not None
            fields = dict(
                re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', consent.text)
            )
            fields["user_id"] = "demo"
            fields["decision"] = "accept"  # the Agree button
            approved = browser.post(
                httpx.URL(to_spotify.headers["location"]).join(action.group(1)), data=fields
            )
            assert approved.status_code in {302, 303}, approved.text
            done = browser.get(approved.headers["location"])
            assert done.status_code == 200, done.text
            assert "Connected: Demo Listener" in done.text
        assert system.ctrl_c() == 0
        assert _processes_in_group(system.pgid) == []
        assert "demo data ready" in system.log.read_text()

    def test_stored_demo_tokens_survive_a_restart(
        self, start_system: StartSystem, tmp_path: Path
    ) -> None:
        first = start_system("demo")
        _wait_until_up([f"{first.api}/healthz"], first.process)
        with httpx.Client(timeout=10) as browser:
            to_spotify = browser.get(f"{first.api}/auth/login")
            consent = browser.get(to_spotify.headers["location"])
            fields = dict(
                re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', consent.text)
            )
            approved = browser.post(
                httpx.URL(to_spotify.headers["location"]).join("/authorize"),
                data={**fields, "user_id": "demo", "decision": "accept"},
            )
            assert browser.get(approved.headers["location"]).status_code == 200
        assert first.ctrl_c() == 0

        second = start_system("demo")
        _wait_until_up([f"{second.api}/healthz"], second.process)
        access_token = _stored_access_token(tmp_path)
        me = httpx.get(
            f"http://127.0.0.1:{second.fake_port}/v1/me",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=5,
        )
        assert me.status_code == 200, me.text
        assert me.json()["id"] == "demo"
        state_file = tmp_path / "data" / "demo-fake-spotify.json"
        assert state_file.stat().st_mode & 0o777 == 0o600
        assert second.ctrl_c() == 0


def _stored_access_token(workdir: Path) -> str:
    """The demo user's access token as the API stored it, decrypted with the local key."""
    import sqlite3  # noqa: PLC0415

    from shared.config.local_secrets import LocalSecrets  # noqa: PLC0415
    from shared.crypto import TokenEncryptor  # noqa: PLC0415

    keys = LocalSecrets(workdir / "data" / "secrets.env").load()["TOKEN_ENCRYPTION_KEYS"]
    with sqlite3.connect(workdir / "data" / "demo.db") as conn:
        (encrypted,) = conn.execute("SELECT access_token_encrypted FROM spotify_tokens").fetchone()
    return TokenEncryptor.from_key_string(keys).decrypt(encrypted)
