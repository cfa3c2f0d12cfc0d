"""The watched folder imports each dropped archive once; the CLI imports with a progress bar."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from collector.imports.intake import ArchiveIntake, import_file_now
from collector.imports.watch_dir import WatchDirScanner
from collector.settings import CollectorSettings
from shared.db.enums import ImportStatus
from shared.db.models import ImportJob

from .conftest import ImportHarness, extended_record, zip_bytes


class TestWatchDirScanner:
    async def test_dropped_archive_is_imported_once_then_moved(
        self, harness: ImportHarness, tmp_path: Path
    ) -> None:
        user = await harness.user()
        watch = tmp_path / "watch"
        (watch / user.spotify_user_id).mkdir(parents=True)
        dropped = watch / user.spotify_user_id / "export.zip"
        dropped.write_bytes(zip_bytes({"endsong_0.json": [extended_record(n) for n in range(30)]}))
        (watch / "nobody").mkdir()
        (watch / "nobody" / "stray.zip").write_bytes(b"PK")
        scanner = WatchDirScanner(
            harness.database,
            watch_dir=watch,
            intake=ArchiveIntake(harness.database, harness.import_dir),
            service=harness.service(),
            claimed_by="watcher",
            settle_seconds=0,
        )

        assert await scanner.scan_once() == 2
        assert await scanner.scan_once() == 0

        assert await harness.plays(user) == 30
        assert (watch / "done" / user.spotify_user_id / "export.zip").is_file()
        assert (watch / "failed" / "nobody" / "stray.zip").is_file()
        assert not dropped.exists()

    async def test_archive_whose_import_was_interrupted_is_not_queued_again(
        self, harness: ImportHarness, tmp_path: Path
    ) -> None:
        user = await harness.user()
        watch = tmp_path / "watch"
        (watch / user.spotify_user_id).mkdir(parents=True)
        dropped = watch / user.spotify_user_id / "export.zip"
        dropped.write_bytes(zip_bytes({"endsong_0.json": [extended_record(n) for n in range(30)]}))
        intake = ArchiveIntake(harness.database, harness.import_dir)
        # An earlier collector queued the archive, started it, and was stopped.
        left_behind = await intake.enqueue(user, dropped)
        async with harness.database.session(write=True) as session:
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == left_behind.import_job_id)
                .values(status=ImportStatus.RUNNING, claimed_by="stopped-collector")
            )
        scanner = WatchDirScanner(
            harness.database,
            watch_dir=watch,
            intake=intake,
            service=harness.service(),
            claimed_by="watcher",
            settle_seconds=0,
        )

        assert await scanner.scan_once() == 1

        async with harness.database.session() as session:
            jobs = list(
                await session.scalars(select(ImportJob).where(ImportJob.user_id == user.id))
            )
        assert [job.id for job in jobs] == [left_behind.import_job_id]
        assert jobs[0].status == ImportStatus.SUCCEEDED
        assert await harness.plays(user) == 30
        assert (watch / "done" / user.spotify_user_id / "export.zip").is_file()
        stored = list((harness.import_dir / str(user.id)).iterdir())
        assert [path.name for path in stored] == [jobs[0].stored_path.rsplit("/", 1)[-1]]

    async def test_archive_imported_before_is_moved_to_done_without_a_new_import(
        self, harness: ImportHarness, tmp_path: Path
    ) -> None:
        user = await harness.user()
        watch = tmp_path / "watch"
        (watch / user.spotify_user_id).mkdir(parents=True)
        content = zip_bytes({"endsong_0.json": [extended_record(n) for n in range(12)]})
        scanner = WatchDirScanner(
            harness.database,
            watch_dir=watch,
            intake=ArchiveIntake(harness.database, harness.import_dir),
            service=harness.service(),
            claimed_by="watcher",
            settle_seconds=0,
        )
        (watch / user.spotify_user_id / "export.zip").write_bytes(content)
        await scanner.scan_once()
        (watch / user.spotify_user_id / "export-again.zip").write_bytes(content)

        assert await scanner.scan_once() == 1

        async with harness.database.session() as session:
            jobs = await session.scalar(
                select(func.count()).select_from(ImportJob).where(ImportJob.user_id == user.id)
            )
        assert jobs == 1
        assert (watch / "done" / user.spotify_user_id / "export-again.zip").is_file()
        assert await harness.plays(user) == 12


class TestImportCommand:
    async def test_creates_an_import_only_user_and_draws_progress(
        self, harness: ImportHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        archive = tmp_path / "my_spotify_data.zip"
        archive.write_bytes(
            zip_bytes({"Streaming_History_Audio_1.json": [extended_record(n) for n in range(250)]})
        )
        monkeypatch.setenv("DATABASE_URL", harness.database.url.render_as_string(False))
        monkeypatch.setenv("IMPORT_DIR", str(harness.import_dir))
        stream = io.StringIO()

        code = await import_file_now(CollectorSettings(), archive, "cli-listener-x", stream)

        assert code == 0
        assert "100%" in stream.getvalue()
        assert f"import {ImportStatus.SUCCEEDED}: 250 new plays" in stream.getvalue()
        user = await ArchiveIntake(harness.database, harness.import_dir).user_for(
            "cli-listener-x", create=False
        )
        assert user is not None
        assert await harness.plays(user) == 250

    async def test_importing_the_same_file_again_says_so_and_adds_nothing(
        self, harness: ImportHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        archive = tmp_path / "my_spotify_data.zip"
        archive.write_bytes(
            zip_bytes({"Streaming_History_Audio_1.json": [extended_record(n) for n in range(40)]})
        )
        monkeypatch.setenv("DATABASE_URL", harness.database.url.render_as_string(False))
        monkeypatch.setenv("IMPORT_DIR", str(harness.import_dir))
        settings = CollectorSettings()
        assert await import_file_now(settings, archive, "cli-listener-y", io.StringIO()) == 0
        stream = io.StringIO()

        code = await import_file_now(settings, archive, "cli-listener-y", stream)

        assert code == 0
        assert "already known as import" in stream.getvalue()
        user = await ArchiveIntake(harness.database, harness.import_dir).user_for(
            "cli-listener-y", create=False
        )
        assert user is not None
        assert await harness.plays(user) == 40
