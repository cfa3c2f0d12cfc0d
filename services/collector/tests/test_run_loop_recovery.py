"""Work of a collector that died is taken back, given up on in time, and released on SIGTERM."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collector.claims import ClaimedJob, WorkClaimer
from collector.job_tracker import FailureHook, JobOutcome, JobTracker
from collector.run_loop import CollectorRunLoop, RunLoopOptions
from fake_spotify import FakeSpotifyServer
from shared.crypto import TokenEncryptor
from shared.db.enums import JobStatus, JobType
from shared.db.manager import DatabaseManager
from shared.db.models import JobRun
from shared.spotify import SpotifyClient
from testkit.factories import create_job_run, create_user
from testkit.plugin import FreshDatabase
from testkit.spotify import spotify_client_config

FetchedT = TypeVar("FetchedT")

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STALE_AFTER = timedelta(minutes=2)


def _claimer(name: str, *, max_attempts: int = 3) -> WorkClaimer:
    return WorkClaimer(
        claimed_by=name,
        interval=timedelta(minutes=10),
        stale_after=STALE_AFTER,
        max_attempts=max_attempts,
        clock=lambda: NOW,
    )


async def _running_poll(
    session: AsyncSession, *, attempts: int, heartbeat_at: datetime | None
) -> JobRun:
    user = await create_user(session)
    return await create_job_run(
        session,
        user_id=user.id,
        status=JobStatus.RUNNING,
        claimed_by="collector-that-died",
        heartbeat_at=heartbeat_at,
        attempts=attempts,
        scheduled_at=NOW - timedelta(minutes=30),
        started_at=NOW - timedelta(minutes=30),
    )


async def _reload(session: AsyncSession, job: JobRun) -> JobRun:
    await session.refresh(job)
    return job


class TestStaleHeartbeatRecovery:
    async def test_silent_poll_goes_back_to_pending_and_its_next_claim_counts(
        self, db_session: AsyncSession
    ) -> None:
        job = await _running_poll(db_session, attempts=1, heartbeat_at=NOW - 2 * STALE_AFTER)
        claimer = _claimer("survivor")

        recovered = await claimer.recover_stale(db_session)

        assert recovered.requeued >= 1
        job = await _reload(db_session, job)
        assert job.status is JobStatus.PENDING
        assert job.claimed_by is None
        assert job.heartbeat_at is None
        assert job.attempts == 1

        claimed = await claimer.claim(db_session, 50)

        assert job.id in {c.job_run_id for c in claimed}
        job = await _reload(db_session, job)
        assert job.status is JobStatus.RUNNING
        assert job.claimed_by == "survivor"
        assert job.attempts == 2

    async def test_poll_with_a_fresh_heartbeat_is_left_to_its_collector(
        self, db_session: AsyncSession
    ) -> None:
        job = await _running_poll(db_session, attempts=1, heartbeat_at=NOW - timedelta(seconds=5))

        await _claimer("survivor").recover_stale(db_session)

        job = await _reload(db_session, job)
        assert job.status is JobStatus.RUNNING
        assert job.claimed_by == "collector-that-died"

    async def test_gives_up_after_max_attempts_with_a_reason(
        self, db_session: AsyncSession
    ) -> None:
        job = await _running_poll(db_session, attempts=3, heartbeat_at=NOW - 2 * STALE_AFTER)

        recovered = await _claimer("survivor", max_attempts=3).recover_stale(db_session)

        assert recovered.failed >= 1
        job = await _reload(db_session, job)
        assert job.status is JobStatus.FAILED
        assert job.finished_at is not None
        assert job.error_message is not None
        assert "stopped heartbeating" in job.error_message
        assert "3 attempts" in job.error_message
        assert job.id not in {c.job_run_id for c in await _claimer("other").claim(db_session, 50)}


class SlowJobTracker(JobTracker):
    """Each job takes `seconds` before doing its real work (nothing, here)."""

    def __init__(self, database: DatabaseManager, seconds: float, started: asyncio.Event) -> None:
        super().__init__(database)
        self._seconds = seconds
        self._started = started

    async def run(
        self,
        job: ClaimedJob,
        *,
        fetch: Callable[[], Awaitable[FetchedT]],
        store: Callable[[AsyncSession, FetchedT], Awaitable[JobOutcome]],
        on_failure: FailureHook | None = None,
        failure_stats: Callable[[BaseException], dict[str, Any] | None] | None = None,
    ) -> JobOutcome | None:
        self._started.set()
        await asyncio.sleep(self._seconds)
        outcome = JobOutcome()
        async with self._database.session(write=True) as session:
            await self.succeed(session, job, outcome)
        return outcome


class TestShutdown:
    async def _stop_during_a_job(
        self,
        database: DatabaseManager,
        fake_spotify: FakeSpotifyServer,
        *,
        job_seconds: float,
        grace_seconds: float,
    ) -> JobRun:
        async with database.session(write=True) as session:
            user = await create_user(session)
            job = await create_job_run(session, user_id=user.id, job_type=JobType.POLL)
        options = RunLoopOptions(
            interval=timedelta(minutes=10),
            shutdown_grace_seconds=grace_seconds,
            heartbeat_seconds=0.5,
            tick_seconds=0.05,
        )
        started = asyncio.Event()
        stop = asyncio.Event()
        async with SpotifyClient(spotify_client_config(fake_spotify)) as client:
            loop = CollectorRunLoop(
                database,
                client,
                TokenEncryptor([TokenEncryptor.generate_key()]),
                options,
                collector_id="stopping",
            )
            loop.tracker = SlowJobTracker(database, job_seconds, started)
            running = asyncio.create_task(loop.run(stop))
            await asyncio.wait_for(started.wait(), timeout=10)
            stop.set()  # what SIGTERM does, through CollectorService.request_stop
            await asyncio.wait_for(running, timeout=grace_seconds + 5)
            assert loop.in_flight == 0
        async with database.session() as session:
            stored = await session.scalar(select(JobRun).where(JobRun.id == job.id))
        assert stored is not None
        return stored

    async def test_a_job_longer_than_the_grace_period_is_released_to_pending(
        self, fresh_database: FreshDatabase, fake_spotify: FakeSpotifyServer
    ) -> None:
        job = await self._stop_during_a_job(
            await fresh_database(), fake_spotify, job_seconds=60, grace_seconds=1
        )

        assert job.status is JobStatus.PENDING
        assert job.claimed_by is None
        assert job.heartbeat_at is None
        assert job.attempts == 0  # a release does not count as an attempt

    async def test_a_job_within_the_grace_period_is_allowed_to_finish(
        self, fresh_database: FreshDatabase, fake_spotify: FakeSpotifyServer
    ) -> None:
        job = await self._stop_during_a_job(
            await fresh_database(), fake_spotify, job_seconds=0.3, grace_seconds=5
        )

        assert job.status is JobStatus.SUCCEEDED
        assert job.claimed_by == "stopping"
        assert job.finished_at is not None
