"""Browser tests' live system: api, frontend and collector processes, fake Spotify, Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.async_api import Browser, async_playwright

from fake_spotify import FakeSpotifyServer, FakeSpotifyState, RegisteredApp
from shared.db.manager import DatabaseManager
from testkit.plugin import FreshDatabase
from testkit.spotify import TEST_CLIENT_ID, TEST_CLIENT_SECRET

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
STARTUP_SECONDS = 60
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "browser-test-admin-password-7f3a"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveSystem:
    """The three services as processes, each with its log file, on one database."""

    api_url: str
    frontend_url: str
    fake: FakeSpotifyServer
    database: DatabaseManager
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_tails(self) -> str:
        """The end of every service's log, for a failure message."""
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {name} ---\n{text[-2500:]}")
        return "\n".join(parts)

    def assert_running(self) -> None:
        """Fail with the logs when a service has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}\n{self.log_tails()}")


def _start(name: str, env: dict[str, str], workdir: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own command line, no shell
            [sys.executable, "-m", "spotify_mcp", name],
            env=env,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(system: LiveSystem, urls: list[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    pending = list(urls)
    while pending:
        system.assert_running()
        if time.monotonic() > deadline:
            raise AssertionError(f"not answering: {pending}\n{system.log_tails()}")
        try:
            if httpx.get(pending[0], timeout=1).status_code == 200:
                pending.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


@pytest.fixture
async def live_system(fresh_database: FreshDatabase, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    """api, frontend and collector started like `spotify-mcp serve` does, on a new database."""
    database = await fresh_database()
    api_port, frontend_port = free_port(), free_port()
    api_url, frontend_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{frontend_port}"
    redirect_uri = f"{api_url}/auth/callback"
    app = RegisteredApp(TEST_CLIENT_ID, TEST_CLIENT_SECRET, frozenset({redirect_uri}))
    with FakeSpotifyServer(FakeSpotifyState(apps=[app])) as fake:
        shared = {
            **os.environ,
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": database.url.render_as_string(hide_password=False),
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SECRET_KEY": "browser-test-signing-key-0123456789abcdef",
            "LOG_TO_DATABASE": "true",
            "IMPORT_DIR": str(tmp_path / "imports"),
            "SPOTIFY_CLIENT_ID": TEST_CLIENT_ID,
            "SPOTIFY_CLIENT_SECRET": TEST_CLIENT_SECRET,
            "SPOTIFY_REDIRECT_URI": redirect_uri,
            "SPOTIFY_ACCOUNTS_URL": fake.accounts_url,
            "SPOTIFY_API_URL": fake.api_url,
        }
        environments = {
            "api": {
                **shared,
                "API_HOST": "127.0.0.1",
                "API_PORT": str(api_port),
                "PUBLIC_BASE_URL": api_url,
                "FRONTEND_BASE_URL": frontend_url,
                "CORS_ALLOWED_ORIGINS": frontend_url,
                "ADMIN_TOKEN": "browser-test-admin-token-0123456789",
                "ADMIN_USERNAME": ADMIN_USERNAME,
                "ADMIN_PASSWORD": ADMIN_PASSWORD,
            },
            "frontend": {
                **shared,
                "FRONTEND_HOST": "127.0.0.1",
                "FRONTEND_PORT": str(frontend_port),
                "FRONTEND_BASE_URL": frontend_url,
                "API_BASE_URL": api_url,
            },
            "collector": {**shared, "COLLECTOR_HEARTBEAT_SECONDS": "2"},
        }
        system = LiveSystem(
            api_url=api_url,
            frontend_url=frontend_url,
            fake=fake,
            database=database,
            logs={name: tmp_path / f"{name}.log" for name in environments},
        )
        try:
            for name, env in environments.items():
                system.processes[name] = _start(name, env, tmp_path, system.logs[name])
            _wait_until_up(system, [f"{api_url}/readyz", f"{frontend_url}/healthz"])
            yield system
        finally:
            for process in system.processes.values():
                _stop(process)


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium driven by Playwright (its own browser downloads do not work here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def screenshots(dialect: str) -> Path:
    """Where this run's page screenshots go (git-ignored test artifacts)."""
    folder = SCREENSHOTS / dialect
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder
