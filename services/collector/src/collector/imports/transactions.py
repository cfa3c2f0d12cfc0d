"""`BatchTransactions`: the write transactions of an import's batches, tuned per database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db.manager import DatabaseManager

logger = logging.getLogger(__name__)

# Past this many pages (4 KiB each) in SQLite's write-ahead log, a batch waits for a
# checkpoint to finish first, so the log starts over instead of growing for the whole import.
_MAX_LOG_PAGES = 65_536


class BatchTransactions:
    """One write transaction per batch, each committed on its own, and what makes them cheap.

    An import's batches are idempotent (a repeated batch only finds its plays already there)
    and each one commits the job's resume position together with its plays. Losing the last
    committed batches to a crash therefore loses no data: the next run repeats them.

    PostgreSQL: batches commit asynchronously (`synchronous_commit = off`): the commit does
    not wait for its WAL to reach the disk, and a crash of the server, never of the
    collector alone, can forget the last fraction of a second of batches, together with the
    resume position that counted them. The database itself cannot be damaged by it.

    SQLite: the write-ahead log is copied back into the database file (a checkpoint, with
    its two fsyncs) in the background while the next batch is written, instead of inside
    each batch's commit, where SQLite does it by itself; `synchronous` stays NORMAL, so
    commits survive a killed process and checkpoints keep the file safe from power loss.
    One connection stays open for the whole import, so that the batches' connections, which
    close after every batch, are never the last one (the last one checkpoints on closing).
    """

    def __init__(self, database: DatabaseManager) -> None:
        self._database = database
        self._keeper: AsyncConnection | None = None
        self._checkpoint: asyncio.Task[None] | None = None
        self._log_pages = 0

    async def __aenter__(self) -> BatchTransactions:
        if self._database.is_sqlite:
            self._keeper = await self._database.engine.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self._wait_for_checkpoint()
        finally:
            if self._keeper is not None:
                await self._keeper.close()
                self._keeper = None

    @property
    def overlapping(self) -> bool:
        """True when one batch may write its items and stage its rows while the previous
        batch is still in its transaction (PostgreSQL; SQLite has one writer at a time)."""
        return self._keeper is None

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block succeeds."""
        if self._log_pages > _MAX_LOG_PAGES:
            # Catch up, so this batch's first write finds the log fully copied back and
            # restarts it from the beginning.
            await self._wait_for_checkpoint()
            await self._run_checkpoint()
        async with self._database.session(write=True) as session:
            connection = await session.connection()
            if self._keeper is not None:
                await connection.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
            else:
                await connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield session
        if self._keeper is not None and (self._checkpoint is None or self._checkpoint.done()):
            self._checkpoint = asyncio.create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        assert self._keeper is not None
        raw = await self._keeper.get_raw_connection()
        driver: Any = raw.driver_connection
        # PASSIVE: copy what no reader still needs, never wait for or block a writer.
        cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
        row = await cursor.fetchone()
        await cursor.close()
        self._log_pages = int(row[1]) if row is not None else 0

    async def _wait_for_checkpoint(self) -> None:
        running, self._checkpoint = self._checkpoint, None
        if running is None:
            return
        try:
            await running
        except Exception:  # the next checkpoint (or the last close) copies what this missed
            logger.warning("background checkpoint failed", exc_info=True)
