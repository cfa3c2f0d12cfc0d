"""`spotify-mcp collector` as a process: killed mid-import it loses nothing; it stops cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from shared.db.enums import ImportStatus
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob, Play
from testkit.factories import create_import_job, create_user
from testkit.plugin import FreshDatabase

RECORDS = 200_000
RECORDS_PER_FILE = 20_000
REPEAT_EVERY = 40  # every 40th record repeats an earlier play: the same play twice
TRACKS = 3_000
STALE_AFTER_SECONDS = 10  # the smallest the setting allows


def write_synthetic_export(path: Path) -> int:
    """An extended export of RECORDS records; returns how many distinct plays it holds.

    Plays are one per (second, track) for a user, the rule the plays table enforces, so the
    expected count applies that rule to the records as written.
    """
    moment = datetime(2015, 1, 1, tzinfo=UTC)
    distinct: set[tuple[str, str]] = set()
    earlier: list[tuple[str, str]] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for file_number, first in enumerate(range(0, RECORDS, RECORDS_PER_FILE)):
            rows: list[dict[str, Any]] = []
            for n in range(first, min(first + RECORDS_PER_FILE, RECORDS)):
                if n % REPEAT_EVERY == REPEAT_EVERY - 1:
                    ts, uri = earlier[(n * 7919) % len(earlier)]
                else:
                    moment += timedelta(seconds=30 + n % 400)
                    ts = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
                    uri = f"spotify:track:sigkill{(n * 31) % TRACKS:015d}"
                    earlier.append((ts, uri))
                distinct.add((ts, uri))
                rows.append(
                    {
                        "ts": ts,
                        "platform": "android",
                        "ms_played": 20_000 + n % 200_000,
                        "conn_country": "NL",
                        "master_metadata_track_name": f"Track {uri[-6:]}",
                        "master_metadata_album_artist_name": f"Artist {int(uri[-6:]) % 300}",
                        "master_metadata_album_album_name": "Album",
                        "spotify_track_uri": uri,
                        "episode_name": None,
                        "episode_show_name": None,
                        "spotify_episode_uri": None,
                        "reason_start": "trackdone",
                        "reason_end": "trackdone",
                        "shuffle": False,
                        "skipped": None,
                        "offline": False,
                        "incognito_mode": False,
                    }
                )
            archive.writestr(f"MyData/Streaming_History_Audio_{file_number}.json", json.dumps(rows))
    return len(distinct)


def collector_environment(database: DatabaseManager, import_dir: Path) -> dict[str, str]:
    """The environment of a collector process on this database, with quick claim recovery."""
    return {
        **os.environ,
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "IMPORT_DIR": str(import_dir),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LOG_TO_DATABASE": "false",
        "LOG_LEVEL": "INFO",
        "COLLECTOR_HEARTBEAT_SECONDS": "1",
        "COLLECTOR_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS),
        "IMPORT_BATCH_SIZE": "2000",
    }


@contextmanager
def collector_process(
    env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m spotify_mcp collector`, killed at the end if it is still running."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "spotify_mcp", "collector"],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, seconds: float, what: str, log: Path
) -> None:
    """Poll `check` until true; fail with the collector's log after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"not within {seconds:.0f} s: {what}\n{tail}")
        await asyncio.sleep(0.05)


async def import_job(database: DatabaseManager, job_id: int) -> ImportJob:
    """The import job as stored now."""
    async with database.session() as session:
        job = await session.get(ImportJob, job_id)
        assert job is not None
        return job


class TestKilledMidImport:
    async def test_sigkill_mid_import_then_restart_completes_with_exact_counts(
        self, fresh_database: FreshDatabase, tmp_path: Path
    ) -> None:
        database = await fresh_database()
        import_dir = tmp_path / "imports"
        async with database.session(write=True) as session:
            user = await create_user(session, spotify_user_id="killed-mid-import")
            stored = f"{user.id}/{uuid.uuid4()}.zip"
            (import_dir / str(user.id)).mkdir(parents=True)
            distinct = write_synthetic_export(import_dir / stored)
            job = await create_import_job(
                session,
                user=user,
                stored_path=stored,
                size_bytes=(import_dir / stored).stat().st_size,
            )
            job_id, user_id = job.id, user.id
        env = collector_environment(database, import_dir)
        log = tmp_path / "collector.log"

        with collector_process(env, tmp_path, log) as first:

            async def midway() -> bool:
                assert first.poll() is None, "the first collector exited on its own"
                job = await import_job(database, job_id)
                assert job.finished_at is None, "the import ended before it could be killed"
                return 0 < job.records_processed < RECORDS

            await wait_for(midway, seconds=30, what="the import getting under way", log=log)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        killed_at = await import_job(database, job_id)
        assert killed_at.status is ImportStatus.RUNNING
        assert 0 < killed_at.records_processed < RECORDS

        with collector_process(env, tmp_path, log) as second:

            async def finished() -> bool:
                assert second.poll() is None, "the second collector exited on its own"
                return (await import_job(database, job_id)).finished_at is not None

            await wait_for(
                finished, seconds=STALE_AFTER_SECONDS + 35, what="the import finishing", log=log
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=15) == 0

        job = await import_job(database, job_id)
        assert job.status in {ImportStatus.SUCCEEDED, ImportStatus.PARTIAL}, job.error_message
        assert job.records_total == RECORDS
        assert job.records_processed == RECORDS
        assert job.records_skipped == 0
        assert job.records_inserted == distinct
        assert job.records_duplicate == RECORDS - distinct
        async with database.session() as session:
            plays = await session.scalar(
                select(func.count()).select_from(Play).where(Play.user_id == user_id)
            )
            keys = await session.scalar(
                select(func.count()).select_from(
                    select(Play.played_at, Play.track_id)
                    .where(Play.user_id == user_id)
                    .distinct()
                    .subquery()
                )
            )
        assert plays == distinct
        assert keys == distinct


class TestStopping:
    @pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
    async def test_exits_0_on_a_stop_signal_without_optional_settings(
        self, fresh_database: FreshDatabase, tmp_path: Path, stop_signal: signal.Signals
    ) -> None:
        database = await fresh_database()
        # Only the database: no Spotify app, no encryption keys, no import folders.
        env = {
            **os.environ,
            "DATABASE_URL": database.url.render_as_string(hide_password=False),
            "LOG_TO_DATABASE": "false",
        }
        log = tmp_path / "collector.log"

        with collector_process(env, tmp_path, log) as process:

            async def waiting() -> bool:
                assert process.poll() is None, "the collector exited on its own"
                return "cannot read stored tokens" in log.read_text(errors="replace")

            await wait_for(waiting, seconds=30, what="the collector starting", log=log)
            process.send_signal(stop_signal)
            assert process.wait(timeout=15) == 0
        assert "Traceback" not in log.read_text(errors="replace")
