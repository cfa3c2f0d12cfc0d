"""The collector process: a run loop that stops cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import cast

from sqlalchemy import func, select

from collector.imports.intake import ArchiveIntake
from collector.imports.service import ZipImportService
from collector.imports.watch_dir import WatchDirScanner
from collector.run_loop import (
    CollectorRunLoop,
    ImportOutcomeWaiter,
    ImportRunner,
    RunLoopOptions,
    default_collector_id,
)
from collector.settings import CollectorSettings
from shared.crypto import TokenEncryptionError, TokenEncryptor
from shared.db.enums import UserStatus
from shared.db.manager import DatabaseManager
from shared.db.migrate import MigrationRunner
from shared.db.models import User
from shared.spotify import SpotifyClient, SpotifyClientConfig

logger = logging.getLogger(__name__)


class CollectorService:
    """Owns the collector's lifetime: waits for the schema, then ticks until told to stop."""

    def __init__(self, settings: CollectorSettings, database: DatabaseManager) -> None:
        self._settings = settings
        self._database = database
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        """Ask the loop to finish; in-flight work gets the configured grace period."""
        self._stop.set()

    async def run(self) -> None:
        """Run until `request_stop` (or a signal) is received."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self.request_stop)
        try:
            if await self._wait_for_schema():
                active = await self._count_active_users()
                logger.info(
                    "collector started",
                    extra={
                        "active_users": active,
                        "interval_s": self._settings.collector_interval_seconds,
                    },
                )
                await self._run_loop()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
        logger.info("collector stopped")

    async def _run_loop(self) -> None:
        """Run `CollectorRunLoop` until stopped; without encryption keys, only wait."""
        try:
            encryptor = TokenEncryptor.from_settings(self._settings)
        except TokenEncryptionError as exc:
            logger.error("collector cannot read stored tokens, not polling: %s", exc)
            await self._stop.wait()
            return
        async with SpotifyClient(
            SpotifyClientConfig.from_settings(self._settings.spotify)
        ) as client:
            collector_id = default_collector_id()
            loop = CollectorRunLoop(
                self._database,
                client,
                encryptor,
                RunLoopOptions.from_settings(self._settings),
                collector_id=collector_id,
                import_runner=load_import_runner(self._database, self._settings),
                watched_folder=load_watched_folder(self._database, self._settings, collector_id),
            )
            await loop.run(self._stop)

    async def _wait_for_schema(self) -> bool:
        """True once the schema is at head; False when asked to stop first."""
        runner = MigrationRunner(self._database)
        while not self._stop.is_set():
            try:
                if await runner.is_at_head():
                    return True
                logger.warning("database schema is not at head; run `spotify-mcp migrate`")
            except Exception as exc:  # unreachable database: keep waiting, say why
                logger.warning("database not reachable: %s", exc.__class__.__name__)
            try:
                await asyncio.wait_for(self._stop.wait(), 5)
            except TimeoutError:
                continue
        return False

    async def _count_active_users(self) -> int:
        async with self._database.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(User).where(User.status == UserStatus.ACTIVE)
            )
        return int(count or 0)


def load_import_runner(database: DatabaseManager, settings: CollectorSettings) -> ImportRunner:
    """The ZIP import service the run loop hands pending imports to."""
    return ZipImportService.from_settings(database, settings)


def load_watched_folder(
    database: DatabaseManager,
    settings: CollectorSettings,
    collector_id: str,
    *,
    settle_seconds: float = 10.0,
) -> WatchDirScanner | None:
    """The scanner of IMPORT_WATCH_DIR, or None when no folder is watched.

    The scanner only queues each archive: the run loop claims and runs the import like any
    uploaded one, so no import runs twice, even with several collectors watching.
    """
    if settings.import_watch_dir is None:
        return None
    waiter = ImportOutcomeWaiter(database)
    return WatchDirScanner(
        database,
        watch_dir=settings.import_watch_dir,
        intake=ArchiveIntake(database, settings.import_dir),
        # The scanner only ever calls `run(job_id, claimed_by=...)`, which the waiter has.
        service=cast(ZipImportService, waiter),
        claimed_by=collector_id,
        settle_seconds=settle_seconds,
    )
