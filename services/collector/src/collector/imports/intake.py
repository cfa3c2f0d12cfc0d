"""`ArchiveIntake`: an archive from disk becomes an import job, stored as the API stores uploads."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from collector.imports.service import ImportProgress, ZipImportService
from collector.settings import CollectorSettings
from shared.db.enums import ImportStatus, UserStatus
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob, User

_CHUNK = 1024 * 1024

# An archive with an import in one of these states is not imported again for the same user
# (the partial unique index of migration 0002 says the same).
LIVE_IMPORT_STATUSES = (
    ImportStatus.PENDING,
    ImportStatus.RUNNING,
    ImportStatus.SUCCEEDED,
    ImportStatus.PARTIAL,
)


@dataclass(frozen=True, slots=True)
class QueuedArchive:
    """The import job of an archive, and whether queueing it created that job."""

    import_job_id: int
    created: bool
    """False when the user already had a live import of the same file (same sha256)."""
    status: ImportStatus


class ArchiveIntake:
    """Copies an archive into IMPORT_DIR/<user_id>/<uuid>.zip and records its import job."""

    def __init__(self, database: DatabaseManager, import_dir: Path) -> None:
        self._database = database
        self._import_dir = import_dir

    async def user_for(self, spotify_user_id: str, *, create: bool) -> User | None:
        """The user with this Spotify ID; an import-only one (no tokens) if asked to create."""
        async with self._database.session(write=create) as session:
            user = await session.scalar(select(User).where(User.spotify_user_id == spotify_user_id))
            if user is None and create:
                user = User(spotify_user_id=spotify_user_id, status=UserStatus.ACTIVE)
                session.add(user)
                await session.flush()
            return user

    async def enqueue(self, user: User, source: Path) -> QueuedArchive:
        """A pending import job of a copy of `source`, unless the user already has a
        pending, running or finished import of the same file: then that job, and no copy."""
        stored = f"{user.id}/{uuid.uuid4()}.zip"
        target = self._import_dir / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with source.open("rb") as reader, target.open("xb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        sha256 = digest.hexdigest()
        try:
            async with self._database.session(write=True) as session:
                earlier = await self._live_import(session, user.id, sha256)
                if earlier is not None:
                    target.unlink()
                    return QueuedArchive(earlier.id, created=False, status=earlier.status)
                job = ImportJob(
                    user_id=user.id,
                    original_filename=source.name[:512],
                    stored_path=stored,
                    size_bytes=target.stat().st_size,
                    sha256=sha256,
                    status=ImportStatus.PENDING,
                )
                try:
                    async with session.begin_nested():
                        session.add(job)
                except IntegrityError:
                    # Another collector queued the same file at the same moment.
                    earlier = await self._live_import(session, user.id, sha256)
                    if earlier is None:
                        raise
                    target.unlink()
                    return QueuedArchive(earlier.id, created=False, status=earlier.status)
                return QueuedArchive(job.id, created=True, status=job.status)
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    @staticmethod
    async def _live_import(session: AsyncSession, user_id: int, sha256: str) -> ImportJob | None:
        return await session.scalar(
            select(ImportJob)
            .where(
                ImportJob.user_id == user_id,
                ImportJob.sha256 == sha256,
                ImportJob.status.in_(LIVE_IMPORT_STATUSES),
            )
            .order_by(ImportJob.id)
            .limit(1)
        )


class ProgressBar:
    """A plain-text progress bar redrawn in place on a terminal stream."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self._stream = stream
        self._width = width

    def __call__(self, progress: ImportProgress) -> None:
        """Redraw the bar for the latest counters."""
        total = max(progress.records_total, 1)
        done = min(progress.records_processed / total, 1.0)
        filled = int(done * self._width)
        self._stream.write(
            f"\r[{'#' * filled}{'.' * (self._width - filled)}] {done:4.0%} "
            f"{progress.records_processed:,}/{progress.records_total:,} records, "
            f"{progress.records_inserted:,} new"
        )
        self._stream.flush()


async def import_file_now(
    settings: CollectorSettings, path: Path, spotify_user_id: str, stream: TextIO
) -> int:
    """Import one archive in this process, drawing progress on `stream`; returns an exit code."""
    database = DatabaseManager.from_settings(settings.database)
    try:
        intake = ArchiveIntake(database, settings.import_dir)
        user = await intake.user_for(spotify_user_id, create=True)
        assert user is not None
        queued = await intake.enqueue(user, path)
        job_id = queued.import_job_id
        if not queued.created:
            stream.write(f"this archive is already known as import {job_id} ({queued.status})\n")
            return 0 if queued.status in {ImportStatus.SUCCEEDED, ImportStatus.PARTIAL} else 1
        service = ZipImportService.from_settings(
            database, settings, on_progress=ProgressBar(stream)
        )
        await service.run(job_id, claimed_by="cli")
        async with database.session() as session:
            job = await session.get(ImportJob, job_id)
        assert job is not None
        stream.write(
            f"\nimport {job.status}: {job.records_inserted:,} new plays, "
            f"{job.records_duplicate:,} already known, {job.records_skipped:,} skipped"
            + (f"\n{job.error_message}" if job.error_message else "")
            + "\n"
        )
        ok = job.status in {ImportStatus.SUCCEEDED, ImportStatus.PARTIAL}
        return 0 if ok else 1
    finally:
        await database.dispose()


def move_aside(path: Path, folder: Path) -> Path:
    """Move a file into `folder` without overwriting anything already there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}-{uuid.uuid4().hex[:8]}{path.suffix}"
    return Path(shutil.move(str(path), str(target)))
