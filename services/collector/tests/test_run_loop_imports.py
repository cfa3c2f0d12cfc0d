"""The run loop runs each pending import once: uploaded, dropped in the watched folder, or
left behind by a collector that died."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from collector.imports.parser import ImportLimits
from collector.imports.service import ZipImportService
from collector.main import load_watched_folder
from collector.run_loop import CollectorRunLoop, RunLoopOptions, WatchedFolder
from collector.settings import CollectorSettings
from fake_spotify import FakeSpotifyServer
from shared.crypto import TokenEncryptor
from shared.db.enums import ImportStatus
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob, Play, User
from shared.spotify import SpotifyClient
from testkit.factories import create_import_job, create_user
from testkit.plugin import FreshDatabase
from testkit.spotify import spotify_client_config

DEADLINE_SECONDS = 30
LIMITS = ImportLimits(
    max_uncompressed_bytes=64 * 1024 * 1024,
    max_member_bytes=32 * 1024 * 1024,
    max_compression_ratio=100,
)
FAST = RunLoopOptions(
    interval=timedelta(seconds=60),
    concurrency=4,
    heartbeat_seconds=0.5,
    stale_after=timedelta(seconds=30),
    tick_seconds=0.1,
    watch_scan_seconds=0.1,
)

# The archive of `history_archive`: what an import of it must count, exactly.
DISTINCT_PLAYS = 200
REPEATED_PLAYS = 10  # the same play twice in the export: one play, one duplicate
WITHOUT_ITEM = 5  # no track, episode or audiobook: skipped as an expected reason
RECORDS = DISTINCT_PLAYS + REPEATED_PLAYS + WITHOUT_ITEM


def _record(n: int, *, uri: str | None = None) -> dict[str, Any]:
    played = datetime(2021, 3, 1, tzinfo=UTC) + timedelta(minutes=4 * n)
    return {
        "ts": played.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": "android",
        "ms_played": 60_000 + n,
        "conn_country": "NL",
        "master_metadata_track_name": f"Song {n % 17}",
        "master_metadata_album_artist_name": f"Band {n % 6}",
        "master_metadata_album_album_name": "Album",
        "spotify_track_uri": uri if uri is not None else f"spotify:track:runloop{n % 17:015d}",
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


def history_archive() -> bytes:
    """An extended export in two files with repeats and item-less records (see the counts)."""
    records = [_record(n) for n in range(DISTINCT_PLAYS)]
    records += [_record(n) for n in range(0, REPEATED_PLAYS * 7, 7)]
    records += [_record(DISTINCT_PLAYS + n, uri="") for n in range(WITHOUT_ITEM)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        half = len(records) // 2
        archive.writestr("MyData/Streaming_History_Audio_2021_0.json", json.dumps(records[:half]))
        archive.writestr("MyData/Streaming_History_Audio_2021_1.json", json.dumps(records[half:]))
    return buffer.getvalue()


class CountingImportRunner:
    """The real import service, noting which collector ran which import."""

    def __init__(self, service: ZipImportService, runs: list[tuple[int, str]]) -> None:
        self._service = service
        self._runs = runs

    async def run(self, import_job_id: int, *, claimed_by: str) -> None:
        """Note the run, then import."""
        self._runs.append((import_job_id, claimed_by))
        await self._service.run(import_job_id, claimed_by=claimed_by)


def _import_service(database: DatabaseManager, import_dir: Path) -> ZipImportService:
    return ZipImportService(database, import_dir=import_dir, limits=LIMITS, batch_size=50)


async def _store_upload(database: DatabaseManager, import_dir: Path, user: User) -> int:
    """A pending import stored as the API stores uploads: IMPORT_DIR/<user_id>/<uuid>.zip."""
    archive = history_archive()
    stored = f"{user.id}/{uuid.uuid4()}.zip"
    (import_dir / str(user.id)).mkdir(parents=True, exist_ok=True)
    (import_dir / stored).write_bytes(archive)
    async with database.session(write=True) as session:
        job = await create_import_job(
            session, user=user, stored_path=stored, size_bytes=len(archive)
        )
        return job.id


async def _new_user(database: DatabaseManager) -> User:
    async with database.session(write=True) as session:
        return await create_user(session, spotify_user_id=f"importer-{uuid.uuid4().hex[:12]}")


async def _jobs(database: DatabaseManager, user: User) -> list[ImportJob]:
    async with database.session() as session:
        return list(await session.scalars(select(ImportJob).where(ImportJob.user_id == user.id)))


async def _plays(database: DatabaseManager, user: User) -> int:
    async with database.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Play).where(Play.user_id == user.id)
        )
        return int(count or 0)


def _assert_exact_counts(job: ImportJob) -> None:
    assert job.status is ImportStatus.SUCCEEDED
    assert job.records_total == RECORDS
    assert job.records_processed == RECORDS
    assert job.records_inserted == DISTINCT_PLAYS
    assert job.records_duplicate == REPEATED_PLAYS
    assert job.records_skipped == WITHOUT_ITEM
    assert job.skip_reasons == {"no_item": WITHOUT_ITEM}


async def _eventually(done: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE_SECONDS
    while not await done():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {DEADLINE_SECONDS} s: {what}")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def running_collector(
    database: DatabaseManager,
    fake_spotify: FakeSpotifyServer,
    runner: CountingImportRunner,
    *,
    collector_id: str,
    watched_folder: WatchedFolder | None = None,
) -> AsyncIterator[CollectorRunLoop]:
    """A run loop working in the background until the block ends."""
    stop = asyncio.Event()
    async with SpotifyClient(spotify_client_config(fake_spotify)) as client:
        loop = CollectorRunLoop(
            database,
            client,
            TokenEncryptor([TokenEncryptor.generate_key()]),
            FAST,
            collector_id=collector_id,
            import_runner=runner,
            watched_folder=watched_folder,
        )
        running = asyncio.create_task(loop.run(stop))
        try:
            yield loop
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=15)


class TestPendingImports:
    async def test_uploaded_import_is_claimed_and_completed_with_exact_counts(
        self, database: DatabaseManager, fake_spotify: FakeSpotifyServer, tmp_path: Path
    ) -> None:
        import_dir = tmp_path / "imports"
        user = await _new_user(database)
        job_id = await _store_upload(database, import_dir, user)
        runs: list[tuple[int, str]] = []
        runner = CountingImportRunner(_import_service(database, import_dir), runs)

        async with running_collector(database, fake_spotify, runner, collector_id="solo"):

            async def finished() -> bool:
                return all(job.finished_at is not None for job in await _jobs(database, user))

            await _eventually(finished, "the import finishing")

        assert runs == [(job_id, "solo")]
        [job] = await _jobs(database, user)
        _assert_exact_counts(job)
        assert job.claimed_by == "solo"
        assert await _plays(database, user) == DISTINCT_PLAYS

    async def test_import_of_a_collector_that_stopped_heartbeating_is_taken_back(
        self, database: DatabaseManager, fake_spotify: FakeSpotifyServer, tmp_path: Path
    ) -> None:
        import_dir = tmp_path / "imports"
        user = await _new_user(database)
        job_id = await _store_upload(database, import_dir, user)
        async with database.session(write=True) as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None
            job.status = ImportStatus.RUNNING
            job.claimed_by = "died-mid-import"
            job.heartbeat_at = datetime.now(UTC) - timedelta(hours=1)
        runs: list[tuple[int, str]] = []
        runner = CountingImportRunner(_import_service(database, import_dir), runs)

        async with running_collector(database, fake_spotify, runner, collector_id="rescuer"):

            async def finished() -> bool:
                return all(job.finished_at is not None for job in await _jobs(database, user))

            await _eventually(finished, "the abandoned import finishing")

        assert runs == [(job_id, "rescuer")]
        [job] = await _jobs(database, user)
        _assert_exact_counts(job)
        assert await _plays(database, user) == DISTINCT_PLAYS

    async def test_import_claimed_by_a_live_collector_is_left_alone(
        self, database: DatabaseManager, fake_spotify: FakeSpotifyServer, tmp_path: Path
    ) -> None:
        import_dir = tmp_path / "imports"
        user = await _new_user(database)
        job_id = await _store_upload(database, import_dir, user)
        async with database.session(write=True) as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None
            job.status = ImportStatus.RUNNING
            job.claimed_by = "alive-elsewhere"
            job.heartbeat_at = datetime.now(UTC)
        runs: list[tuple[int, str]] = []
        runner = CountingImportRunner(_import_service(database, import_dir), runs)

        async with running_collector(database, fake_spotify, runner, collector_id="bystander"):
            await asyncio.sleep(1)  # ten ticks of the loop

        assert runs == []
        [job] = await _jobs(database, user)
        assert job.claimed_by == "alive-elsewhere"


@pytest.mark.postgres_only
class TestTwoCollectorsImporting:
    async def test_no_import_runs_twice(
        self,
        dialect: str,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        tmp_path: Path,
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("SQLite runs a single collector")
        first = await fresh_database()
        second = DatabaseManager(first.url)  # another process's engine and pool
        import_dir = tmp_path / "imports"
        users = [await _new_user(first) for _ in range(8)]
        job_ids = {await _store_upload(first, import_dir, user) for user in users}
        runs: list[tuple[int, str]] = []

        async with (
            running_collector(
                first,
                fake_spotify,
                CountingImportRunner(_import_service(first, import_dir), runs),
                collector_id="collector-a",
            ),
            running_collector(
                second,
                fake_spotify,
                CountingImportRunner(_import_service(second, import_dir), runs),
                collector_id="collector-b",
            ),
        ):

            async def all_finished() -> bool:
                async with first.session() as session:
                    unfinished = await session.scalar(
                        select(func.count())
                        .select_from(ImportJob)
                        .where(ImportJob.finished_at.is_(None))
                    )
                return unfinished == 0

            await _eventually(all_finished, "every import finishing")
        await second.dispose()

        ran = [job_id for job_id, _collector in runs]
        assert sorted(ran) == sorted(job_ids)  # each import ran, and only once
        for user in users:
            [job] = await _jobs(first, user)
            _assert_exact_counts(job)
            assert (job.id, job.claimed_by) in runs
            assert await _plays(first, user) == DISTINCT_PLAYS


class TestWatchedFolder:
    async def test_dropped_archive_is_imported_once_through_the_loop_then_moved(
        self, database: DatabaseManager, fake_spotify: FakeSpotifyServer, tmp_path: Path
    ) -> None:
        import_dir = tmp_path / "imports"
        watch = tmp_path / "watch"
        user = await _new_user(database)
        dropped = watch / user.spotify_user_id / "my_spotify_data.zip"
        dropped.parent.mkdir(parents=True)
        dropped.write_bytes(history_archive())
        settings = CollectorSettings(_env_file=None, import_dir=import_dir, import_watch_dir=watch)
        folder = load_watched_folder(database, settings, "watcher", settle_seconds=0)
        assert folder is not None
        runs: list[tuple[int, str]] = []
        runner = CountingImportRunner(_import_service(database, import_dir), runs)
        moved = watch / "done" / user.spotify_user_id / "my_spotify_data.zip"

        async with running_collector(
            database, fake_spotify, runner, collector_id="watcher", watched_folder=folder
        ):

            async def archived() -> bool:
                return moved.is_file()

            await _eventually(archived, "the archive moving to done/")
            await asyncio.sleep(0.5)  # five more scans: nothing is queued again

        [job] = await _jobs(database, user)
        assert runs == [(job.id, "watcher")]
        _assert_exact_counts(job)
        assert job.original_filename == "my_spotify_data.zip"
        assert (import_dir / job.stored_path).is_file()
        assert not dropped.exists()
        assert await _plays(database, user) == DISTINCT_PLAYS

    def test_no_folder_is_watched_when_the_setting_is_blank(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("IMPORT_WATCH_DIR", "")
        settings = CollectorSettings(_env_file=None)

        assert settings.import_watch_dir is None
        assert load_watched_folder(DatabaseManager("sqlite+aiosqlite://"), settings, "c") is None
