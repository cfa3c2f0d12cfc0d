"""README's quick start, followed literally on a fresh clone, answers with the demo's top artist.

The shell blocks marked `<!-- quickstart ... -->` in README are run as written, in a `git clone`
of this repository's HEAD (so only committed files count): the first (`make demo`) in the
background, as in the first terminal; the next ones, as in a second terminal, once the first
one's log says `starting: api` (what README tells the reader to wait for).

The blocks run with this shell's environment (its network and TLS set-up) less the project's
settings and this checkout's virtual environment. Two honest departures from a newcomer's
machine, neither of which skips a step of the guide:
- the clone gets a link to this checkout's `.tools` (the pinned uv that `make` would otherwise
  download with pip); `make demo` still builds the clone's own `.venv` from the lock file,
  from uv's package cache when it holds the packages;
- the ports are free ones (API_PORT, FRONTEND_PORT, FAKE_SPOTIFY_PORT in the environment,
  and the blocks' `127.0.0.1:8000` rewritten to match), so the test never meets a service
  someone else runs on 8000.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 300  # "from nothing to a tool's answer in under five minutes"
MARKER = re.compile(
    r"<!-- quickstart(?P<note>[^>]*)-->\s*\n```(?:sh|bash|shell)\n(.*?)^```", re.M | re.S
)
READY_LINE = "starting: api"


def quickstart_blocks() -> list[tuple[bool, str]]:
    """README's marked shell blocks, in order: (runs in the background, the commands)."""
    text = (ROOT / "README.md").read_text()
    return [
        ("background" in match.group("note"), match.group(2)) for match in MARKER.finditer(text)
    ]


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_environment(api_port: int) -> dict[str, str]:
    """This shell's network and TLS set-up, without project settings or this checkout's venv."""
    example = (ROOT / ".env.example").read_text()
    settings = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in settings and key != "VIRTUAL_ENV" and not key.startswith("PYTEST")
    }
    path = [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
    env["PATH"] = os.pathsep.join(entry for entry in path if not entry.startswith(str(ROOT)))
    env.update(
        {
            "API_PORT": str(api_port),
            "FRONTEND_PORT": str(_free_port()),
            "FAKE_SPOTIFY_PORT": str(_free_port()),
        }
    )
    return env


def _top_artists_in(database: Path, user_id: int) -> tuple[set[str], int]:
    """The most played artists of a user (every credited artist counts), straight from SQL."""
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            """
            SELECT artists.name, count(*) AS plays
            FROM plays
            JOIN track_artists ON track_artists.track_id = plays.track_id
            JOIN artists ON artists.id = track_artists.artist_id
            WHERE plays.user_id = ? AND plays.ms_played >= 30000
                  AND lower(plays.item_kind) = 'track'
            GROUP BY artists.id, artists.name
            """,
            (user_id,),
        ).fetchall()
    assert rows, "the demo user has no plays"
    most = max(int(plays) for _, plays in rows)
    return {str(name) for name, plays in rows if int(plays) == most}, most


class QuickstartRun:
    """One run of the quick start in a fresh clone; stops what it started."""

    def __init__(self, workdir: Path) -> None:
        self.clone = workdir / "spotify-mcp"
        self.log = workdir / "make-demo.log"
        self.api_port = _free_port()
        self.env = _clean_environment(self.api_port)
        self.started = time.monotonic()
        self.background: subprocess.Popen[bytes] | None = None

    def remaining(self) -> float:
        """Seconds left before the deadline."""
        return DEADLINE_SECONDS - (time.monotonic() - self.started)

    def prepare(self) -> None:
        """Clone HEAD; lend it the pinned uv of this checkout."""
        subprocess.run(  # noqa: S603
            ["git", "clone", "--quiet", str(ROOT), str(self.clone)],  # noqa: S607
            check=True,
            timeout=120,
        )
        if (ROOT / ".tools" / "bin" / "uv").exists():
            (self.clone / ".tools").symlink_to(ROOT / ".tools")

    def commands(self, block: str) -> str:
        """The block as written, pointed at this run's API port."""
        return block.replace("127.0.0.1:8000", f"127.0.0.1:{self.api_port}")

    def start_background(self, block: str) -> None:
        """Run a block that keeps running, as in a first terminal."""
        with self.log.open("wb") as log:
            self.background = subprocess.Popen(  # noqa: S603
                ["bash", "-c", self.commands(block)],  # noqa: S607
                cwd=self.clone,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_logged(self, line: str) -> None:
        """Wait, like the reader, for the first terminal to say `line`."""
        while self.remaining() > 0:
            if line in self.log.read_text(errors="replace"):
                return
            assert self.background is not None
            if self.background.poll() is not None:
                pytest.fail(f"the background block exited:\n{self.tail()}")
            time.sleep(1)
        pytest.fail(f"no {line!r} within {DEADLINE_SECONDS} s:\n{self.tail()}")

    def run(self, block: str) -> str:
        """Run a block to its end, as in a second terminal; returns its output."""
        try:
            result = subprocess.run(  # noqa: S603
                ["bash", "-e", "-c", self.commands(block)],  # noqa: S607
                cwd=self.clone,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=max(self.remaining(), 1),
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"no answer within {DEADLINE_SECONDS} s:\n{self.tail()}")
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{self.tail()}"
        return result.stdout

    def tail(self) -> str:
        """The end of the background block's output."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        """Ctrl-C the background block (its whole process group), then make sure."""
        if self.background is None or self.background.poll() is not None:
            return
        group = os.getpgid(self.background.pid)
        os.killpg(group, signal.SIGINT)
        try:
            self.background.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.background.wait(timeout=10)


@pytest.fixture
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuickstartRun]:
    workdir = tmp_path_factory.mktemp("quickstart")
    run = QuickstartRun(workdir)
    try:
        yield run
    finally:
        run.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _first_artist(result: Any) -> dict[str, Any]:
    artists = result["artists"]
    assert isinstance(artists, list)
    assert artists
    first = artists[0]
    assert isinstance(first, dict)
    return first


class TestQuickstart:
    def test_readme_marks_a_background_demo_then_a_tool_call(self) -> None:
        blocks = quickstart_blocks()
        assert [background for background, _ in blocks] == [True, False]
        assert blocks[0][1].strip() == "make demo"
        assert "/mcp/call" in blocks[1][1]
        assert "data/secrets.env" in blocks[1][1]

    def test_fresh_clone_answers_with_the_demo_users_top_artist(
        self,
        quickstart: QuickstartRun,
        record_property: Callable[[str, object], None],
    ) -> None:
        (_, demo), *calls = quickstart_blocks()
        quickstart.prepare()
        quickstart.start_background(demo)
        quickstart.wait_until_logged(READY_LINE)
        answer = ""
        for _, block in calls:
            answer = quickstart.run(block)
        elapsed = time.monotonic() - quickstart.started
        record_property("quickstart_seconds", round(elapsed, 1))
        print(f"quick start: fresh clone to the tool's answer in {elapsed:.0f} s")

        body = json.loads(answer)
        assert body["tool"] == "history.top_artists"
        assert body["success"] is True, body
        expected, plays = _top_artists_in(quickstart.clone / "data" / "demo.db", user_id=1)
        first = _first_artist(body["result"])
        assert first["name"] in expected
        assert first["plays"] == plays
