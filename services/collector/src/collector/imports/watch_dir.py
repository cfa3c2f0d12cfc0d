"""`WatchDirScanner`: archives dropped into IMPORT_WATCH_DIR/<spotify_user_id>/ are imported."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import select

from collector.imports.intake import ArchiveIntake, move_aside
from collector.imports.service import ZipImportService
from shared.db.enums import ImportStatus
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob

logger = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"


class WatchDirScanner:
    """One pass over the watched folder per call; the run loop decides how often."""

    def __init__(
        self,
        database: DatabaseManager,
        *,
        watch_dir: Path,
        intake: ArchiveIntake,
        service: ZipImportService,
        claimed_by: str,
        settle_seconds: float = 10.0,
    ) -> None:
        self._database = database
        self._watch_dir = watch_dir
        self._intake = intake
        self._service = service
        self._claimed_by = claimed_by
        # A file modified this recently may still be being copied in.
        self._settle_seconds = settle_seconds

    async def scan_once(self) -> int:
        """Import every settled archive found; returns how many were handled."""
        handled = 0
        if not self._watch_dir.is_dir():
            return handled
        for user_dir in sorted(self._watch_dir.iterdir()):
            if not user_dir.is_dir() or user_dir.name in {DONE, FAILED}:
                continue
            for archive in sorted(user_dir.glob("*.zip")):
                if archive.is_file() and self._settled(archive):
                    await self._handle(user_dir.name, archive)
                    handled += 1
        return handled

    def _settled(self, archive: Path) -> bool:
        return time.time() - archive.stat().st_mtime >= self._settle_seconds

    async def _handle(self, spotify_user_id: str, archive: Path) -> None:
        user = await self._intake.user_for(spotify_user_id, create=False)
        if user is None:
            logger.warning(
                "watched archive for an unknown user", extra={"spotify_user_id": spotify_user_id}
            )
            move_aside(archive, self._watch_dir / FAILED / spotify_user_id)
            return
        queued = await self._intake.enqueue(user, archive)
        job_id = queued.import_job_id
        if not queued.created:
            # A collector stopped while this archive was being imported (or before it was
            # moved) left its job behind: that job is the archive's import.
            logger.info(
                "watched archive already queued",
                extra={"import_job_id": job_id, "status": str(queued.status)},
            )
        if queued.status in {ImportStatus.PENDING, ImportStatus.RUNNING}:
            await self._service.run(job_id, claimed_by=self._claimed_by)
        async with self._database.session() as session:
            status = await session.scalar(select(ImportJob.status).where(ImportJob.id == job_id))
        outcome = DONE if status in {ImportStatus.SUCCEEDED, ImportStatus.PARTIAL} else FAILED
        move_aside(archive, self._watch_dir / outcome / spotify_user_id)
        logger.info(
            "watched archive imported",
            extra={"import_job_id": job_id, "status": str(status), "moved_to": outcome},
        )
