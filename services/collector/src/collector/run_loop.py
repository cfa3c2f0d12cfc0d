"""`CollectorRunLoop`: claims due work from the database and runs it, a few users at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collector.claims import ClaimedJob, WorkClaimer
from collector.initial_sync import InitialSyncService
from collector.job_tracker import JobTracker, describe_error
from collector.polling import PollingService, RecentlyPlayedPoller
from collector.settings import CollectorSettings
from collector.token_manager import CollectorTokenManager, UserNeedsReauthorisationError
from shared.crypto import TokenEncryptor
from shared.db.base import utc_now
from shared.db.enums import ImportStatus, InitialSyncStatus, JobType
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob, SyncCheckpoint
from shared.logging import bind_log_context
from shared.spotify import SpotifyClient, SpotifyRateLimitDeferred

logger = logging.getLogger(__name__)

# After repeated failures a user waits interval * 2**n, at most this long.
MAX_BACKOFF = timedelta(hours=6)


class ImportRunner(Protocol):
    """Runs one claimed privacy-export import (the ZIP import service)."""

    async def run(self, import_job_id: int, *, claimed_by: str) -> Any:
        """Import the archive of this import job."""
        ...


class WatchedFolder(Protocol):
    """One pass over IMPORT_WATCH_DIR (the `WatchDirScanner`)."""

    async def scan_once(self) -> int:
        """Queue and see through every settled archive found; returns how many."""
        ...


FINISHED_IMPORT_STATUSES = frozenset(
    {ImportStatus.SUCCEEDED, ImportStatus.PARTIAL, ImportStatus.FAILED}
)


class ImportOutcomeWaiter:
    """Stands in for the import service in the watched-folder scanner: waits, never imports.

    The scanner queues a pending import job and then asks its service to run it. Running it
    there would race the run loop's own claiming (in this or another collector), so this
    runner leaves the job to that claiming, which runs each import exactly once, and only
    waits until the job has finished, so the scanner can move the archive to done/ or failed/.
    """

    def __init__(self, database: DatabaseManager, *, poll_seconds: float = 1.0) -> None:
        self._database = database
        self._poll_seconds = poll_seconds

    async def run(self, import_job_id: int, *, claimed_by: str) -> None:
        """Return once the import job has succeeded, partly succeeded, failed or vanished."""
        del claimed_by  # the job is claimed by the run loop, not on the scanner's behalf
        while True:
            async with self._database.session() as session:
                status = await session.scalar(
                    select(ImportJob.status).where(ImportJob.id == import_job_id)
                )
            if status is None or status in FINISHED_IMPORT_STATUSES:
                return
            await asyncio.sleep(self._poll_seconds)


@dataclass(frozen=True, slots=True)
class RunLoopOptions:
    """How often and how much the run loop works; built from the settings once."""

    interval: timedelta
    concurrency: int = 4
    shutdown_grace_seconds: float = 10.0
    heartbeat_seconds: float = 15.0
    stale_after: timedelta = timedelta(minutes=2)
    max_attempts: int = 3
    initial_sync_max_requests: int = 20
    # How often the queue is looked at when nothing finished in between.
    tick_seconds: float = 1.0
    # How often IMPORT_WATCH_DIR is looked at, when it is set.
    watch_scan_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings: CollectorSettings) -> RunLoopOptions:
        """The options the collector's settings ask for."""
        return cls(
            interval=timedelta(seconds=settings.collector_interval_seconds),
            concurrency=settings.collector_concurrency,
            shutdown_grace_seconds=settings.collector_shutdown_grace_seconds,
            heartbeat_seconds=settings.collector_heartbeat_seconds,
            stale_after=timedelta(seconds=settings.collector_stale_after_seconds),
            max_attempts=settings.collector_max_attempts,
            initial_sync_max_requests=settings.collector_initial_sync_max_requests,
        )


def default_collector_id() -> str:
    """A name unique to this process, stored in claimed_by."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class CollectorRunLoop:
    """Claims polls, initial syncs and imports; heartbeats them; releases them on shutdown."""

    def __init__(
        self,
        database: DatabaseManager,
        client: SpotifyClient,
        encryptor: TokenEncryptor,
        options: RunLoopOptions,
        *,
        collector_id: str | None = None,
        import_runner: ImportRunner | None = None,
        watched_folder: WatchedFolder | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._database = database
        self._client = client
        self._encryptor = encryptor
        self._options = options
        self._import_runner = import_runner
        self._watched_folder = watched_folder
        self._clock = clock
        self.collector_id = collector_id or default_collector_id()
        self.claimer = WorkClaimer(
            claimed_by=self.collector_id,
            interval=options.interval,
            stale_after=options.stale_after,
            max_attempts=options.max_attempts,
            clock=clock,
        )
        self.tracker = JobTracker(database, clock=clock)
        self._poller = RecentlyPlayedPoller(client)
        self._polling = PollingService()
        self._initial_sync = InitialSyncService(
            client, max_requests=options.initial_sync_max_requests
        )
        self._jobs: dict[asyncio.Task[None], ClaimedJob] = {}
        self._imports: dict[asyncio.Task[None], int] = {}
        self._wake = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """How many jobs and imports are running now."""
        return len(self._jobs) + len(self._imports)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run work until `stop` is set, then finish or release what is in flight."""
        logger.info("collector run loop started", extra={"collector_id": self.collector_id})
        heartbeats = asyncio.create_task(self._heartbeat_forever())
        watching = (
            asyncio.create_task(self._watch_forever(self._watched_folder))
            if self._watched_folder is not None
            else None
        )
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except Exception:  # the database is away: keep the loop alive, say why
                    logger.exception("claiming work failed; retrying")
                self._wake.clear()
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
                await asyncio.wait(
                    waiters, timeout=self._options.tick_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()
        finally:
            if watching is not None:
                # Only waiting is cancelled: the imports it queued are in-flight work below.
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
            await self._shutdown()
            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeats
        logger.info("collector run loop stopped")

    async def run_once(self) -> int:
        """One pass: recover dead claims, queue due users, claim what fits; returns jobs started."""
        free = self._options.concurrency - self.in_flight
        if free <= 0:
            return 0
        async with self._database.session(write=True) as session:
            recovered = await self.claimer.recover_stale(session)
            await self.claimer.schedule_due_users(session, free)
            jobs = await self.claimer.claim(session, free)
            imports: list[int] = []
            if self._import_runner is not None:
                imports = await self.claimer.claim_imports(session, free - len(jobs))
        if recovered.requeued or recovered.failed or recovered.imports_requeued:
            logger.warning(
                "took back work of a collector that stopped heartbeating",
                extra={
                    "requeued": recovered.requeued,
                    "failed": recovered.failed,
                    "imports_requeued": recovered.imports_requeued,
                },
            )
        for job in jobs:
            task = asyncio.create_task(self._run_job(job))
            self._jobs[task] = job
            task.add_done_callback(self._finished)
        for import_job_id in imports:
            task = asyncio.create_task(self._run_import(import_job_id))
            self._imports[task] = import_job_id
            task.add_done_callback(self._finished)
        return len(jobs) + len(imports)

    async def wait_idle(self) -> None:
        """Wait until everything started so far has finished (for tests and the CLI)."""
        while self._jobs or self._imports:
            await asyncio.gather(*self._jobs, *self._imports, return_exceptions=True)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._jobs.pop(task, None)
        self._imports.pop(task, None)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("a job crashed the run loop's task", exc_info=task.exception())

    # -- jobs -------------------------------------------------------------------------------

    async def _run_job(self, job: ClaimedJob) -> None:
        assert job.user_id is not None
        user_id = job.user_id
        with bind_log_context(job_run_id=job.job_run_id, user_id=user_id):
            tokens = CollectorTokenManager(self._database, self._client, self._encryptor, user_id)
            started_at = self._clock()
            if job.job_type is JobType.INITIAL_SYNC:
                await self._mark_initial_sync_running(user_id, started_at)
                await self.tracker.run(
                    job,
                    fetch=lambda: self._initial_sync.fetch(tokens),
                    store=lambda session, backfill: self._initial_sync.record(
                        session,
                        user_id,
                        backfill,
                        now=self._clock(),
                        next_poll_at=self._clock() + self._options.interval,
                    ),
                    on_failure=self._failure_hook(job),
                    failure_stats=_failure_stats,
                )
                return

            async def fetch_polled() -> Any:
                async with self._database.session() as session:
                    checkpoint = await session.get(SyncCheckpoint, user_id)
                after = checkpoint.after_cursor_ms if checkpoint is not None else None
                return await self._poller.fetch_after(tokens, after)

            await self.tracker.run(
                job,
                fetch=fetch_polled,
                store=lambda session, fetched: self._polling.record(
                    session,
                    user_id,
                    fetched,
                    started_at=started_at,
                    now=self._clock(),
                    next_poll_at=self._clock() + self._options.interval,
                ),
                on_failure=self._failure_hook(job),
                failure_stats=_failure_stats,
            )

    async def _mark_initial_sync_running(self, user_id: int, now: datetime) -> None:
        async with self._database.session(write=True) as session:
            checkpoint = await session.get(SyncCheckpoint, user_id)
            if checkpoint is not None:
                checkpoint.initial_sync_status = InitialSyncStatus.RUNNING
                checkpoint.initial_sync_started_at = checkpoint.initial_sync_started_at or now

    def _failure_hook(self, job: ClaimedJob) -> Callable[[AsyncSession, BaseException], Any]:
        options = self._options

        async def on_failure(session: AsyncSession, error: BaseException) -> None:
            checkpoint = await session.get(SyncCheckpoint, job.user_id)
            if checkpoint is None:
                return
            now = self._clock()
            checkpoint.last_error = describe_error(error)
            if isinstance(error, SpotifyRateLimitDeferred):
                # Only this user waits; everyone else keeps being served.
                checkpoint.deferred_until = error.retry_at
                checkpoint.next_poll_at = error.retry_at
            elif not isinstance(error, UserNeedsReauthorisationError):
                checkpoint.consecutive_failures += 1
                backoff = min(
                    options.interval * 2 ** min(checkpoint.consecutive_failures, 10), MAX_BACKOFF
                )
                checkpoint.next_poll_at = now + max(backoff, options.interval)
            if job.job_type is JobType.INITIAL_SYNC:
                gave_up = checkpoint.consecutive_failures >= options.max_attempts or isinstance(
                    error, UserNeedsReauthorisationError
                )
                checkpoint.initial_sync_status = (
                    InitialSyncStatus.FAILED if gave_up else InitialSyncStatus.PENDING
                )
            await session.flush()

        return on_failure

    async def _run_import(self, import_job_id: int) -> None:
        assert self._import_runner is not None
        with bind_log_context(import_job_id=import_job_id):
            try:
                await self._import_runner.run(import_job_id, claimed_by=self.collector_id)
            except Exception:
                # The import service records its own failure; the collector keeps running.
                logger.exception("import %s failed", import_job_id)

    async def _watch_forever(self, folder: WatchedFolder) -> None:
        while True:
            try:
                handled = await folder.scan_once()
            except Exception:  # an unreadable folder or a database hiccup: try again later
                logger.exception("scanning the watched import folder failed")
            else:
                if handled:
                    logger.info("watched import folder scanned", extra={"archives": handled})
            await asyncio.sleep(self._options.watch_scan_seconds)

    # -- heartbeats and shutdown -------------------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._options.heartbeat_seconds)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """Renew the claims of everything in flight."""
        job_ids = [job.job_run_id for job in self._jobs.values()]
        import_ids = list(self._imports.values())
        if not job_ids and not import_ids:
            return
        try:
            async with self._database.session(write=True) as session:
                await self.claimer.heartbeat(session, job_ids, import_ids)
        except Exception:
            logger.exception("could not renew heartbeats")

    async def _shutdown(self) -> None:
        """Let in-flight work finish within the grace period; release the rest."""
        tasks = [*self._jobs, *self._imports]
        if not tasks:
            return
        # Keep a part of the grace period for cancelling and releasing.
        grace = self._options.shutdown_grace_seconds
        wait_for = max(grace - min(3.0, grace / 3), 0.1)
        logger.info("stopping: waiting up to %.0f s for %d jobs", wait_for, len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=wait_for)
        if not pending:
            return
        job_ids = [job.job_run_id for task, job in self._jobs.items() if task in pending]
        import_ids = [job_id for task, job_id in self._imports.items() if task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        try:
            async with self._database.session(write=True) as session:
                await self.claimer.release(session, job_ids, import_ids)
        except Exception:
            logger.exception("could not release unfinished work; recovery will take it back")
            return
        logger.warning("released unfinished work", extra={"jobs": job_ids, "imports": import_ids})


def _failure_stats(error: BaseException) -> dict[str, Any] | None:
    if isinstance(error, SpotifyRateLimitDeferred):
        return {
            "deferred_until": error.retry_at.isoformat(),
            "retry_after_seconds": error.retry_after_seconds,
        }
    if isinstance(error, UserNeedsReauthorisationError):
        return {"reauth_required": True}
    return None
