"""The watched folder imports each dropped archive once; the CLI imports with a progress bar."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from collector.imports.intake import ArchiveIntake, import_file_now
from collector.imports.watch_dir import WatchDirScanner
from collector.settings import CollectorSettings
from shared.db.enums import ImportStatus

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
