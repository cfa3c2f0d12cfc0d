"""Helpers of the import tests: archives written on the fly, jobs, and the service."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from collector.imports.parser import ImportLimits
from collector.imports.service import ProgressCallback, ZipImportService
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob, Play, User
from testkit.factories import create_import_job, create_user

FIXTURES = Path(__file__).parent / "fixtures"

LIMITS = ImportLimits(
    max_uncompressed_bytes=64 * 1024 * 1024,
    max_member_bytes=32 * 1024 * 1024,
    max_compression_ratio=100,
)


def extended_record(n: int, **overrides: Any) -> dict[str, Any]:
    """A current-format extended record, the nth of a synthetic history."""
    record: dict[str, Any] = {
        "ts": (datetime(2022, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * n)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "platform": "android",
        "ms_played": 1000 + n,
        "conn_country": "NL",
        "ip_addr": "192.0.2.1",
        "master_metadata_track_name": f"Song {n % 11}",
        "master_metadata_album_artist_name": f"Band {n % 5}",
        "master_metadata_album_album_name": "Album",
        "spotify_track_uri": f"spotify:track:synthetic{n % 11:013d}",
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": None,
        "offline": False,
        "offline_timestamp": 0,
        "incognito_mode": False,
    }
    record.update(overrides)
    return record


def zip_bytes(members: dict[str, bytes | str | list[Any]]) -> bytes:
    """A ZIP of the given members (lists are written as JSON)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, json.dumps(content) if isinstance(content, list) else content)
    return buffer.getvalue()


@dataclass
class ImportHarness:
    """A database, an IMPORT_DIR, and the means to run imports in them."""

    database: DatabaseManager
    import_dir: Path

    def service(self, on_progress: ProgressCallback | None = None) -> ZipImportService:
        """A service with small batches, so tests cross batch boundaries."""
        return ZipImportService(
            self.database,
            import_dir=self.import_dir,
            limits=LIMITS,
            batch_size=100,
            on_progress=on_progress,
        )

    async def user(self) -> User:
        """A new user of the shared test database."""
        async with self.database.session(write=True) as session:
            return await create_user(session, spotify_user_id=f"listener-{uuid.uuid4().hex}")

    async def job(self, user: User, archive: bytes) -> int:
        """A pending import job of the archive, stored as the API stores uploads."""
        stored = f"{user.id}/{uuid.uuid4().hex}.zip"
        path = self.import_dir / stored
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archive)
        async with self.database.session(write=True) as session:
            job = await create_import_job(
                session, user=user, stored_path=stored, size_bytes=len(archive)
            )
            return job.id

    async def run(self, user: User, archive: bytes) -> ImportJob:
        """Import the archive for the user and return the finished job."""
        job_id = await self.job(user, archive)
        await self.service().run(job_id, claimed_by="test")
        return await self.reload(job_id)

    async def reload(self, job_id: int) -> ImportJob:
        """The job as stored now."""
        async with self.database.session() as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None
            return job

    async def plays(self, user: User) -> int:
        """How many plays the user has."""
        async with self.database.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(Play).where(Play.user_id == user.id)
            )
            return int(count or 0)


@pytest.fixture
def harness(database: DatabaseManager, tmp_path: Path) -> ImportHarness:
    """Import machinery on the dialect under test."""
    return ImportHarness(database=database, import_dir=tmp_path / "imports")
