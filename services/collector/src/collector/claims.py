"""Claiming due work from the database, safely when several collectors share it.

On PostgreSQL every claim locks its rows with `SELECT ... FOR UPDATE SKIP LOCKED`, so two
collectors never take the same row, and the partial unique index on job_runs (one pending
or running job per user and type) settles any remaining race. On SQLite there is one
collector and the caller's write transaction (BEGIN IMMEDIATE) makes each claim atomic; the
UPDATE still re-checks `status = 'pending'` so a row is only ever moved once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.db.base import utc_now
from shared.db.bulk import insert_ignoring_conflicts
from shared.db.enums import ImportStatus, InitialSyncStatus, JobStatus, JobType, UserStatus
from shared.db.models import ImportJob, JobRun, SpotifyToken, SyncCheckpoint, User

# Job types the run loop executes itself (imports go to the import service).
USER_JOB_TYPES = (JobType.POLL, JobType.INITIAL_SYNC)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job run this collector now owns (status running, claimed_by set)."""

    job_run_id: int
    job_type: JobType
    user_id: int | None
    attempts: int
    claimed_by: str


@dataclass(frozen=True, slots=True)
class RecoveredJobs:
    """What a recovery pass did with jobs whose collector stopped heartbeating."""

    requeued: int
    failed: int
    imports_requeued: int


class WorkClaimer:
    """Schedules due polls, claims pending jobs and imports, renews and recovers claims."""

    def __init__(
        self,
        *,
        claimed_by: str,
        interval: timedelta,
        stale_after: timedelta,
        max_attempts: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.claimed_by = claimed_by
        self._interval = interval
        self._stale_after = stale_after
        self._max_attempts = max_attempts
        self._clock = clock

    async def schedule_due_users(self, session: AsyncSession, limit: int) -> int:
        """Queue a poll (or the initial sync) for each active user whose turn has come.

        Moves the user's `next_poll_at` one interval on, so a user is queued once per turn.
        """
        now = self._clock()
        query = (
            select(SyncCheckpoint.user_id, SyncCheckpoint.initial_sync_status)
            .join(User, User.id == SyncCheckpoint.user_id)
            .where(
                User.status == UserStatus.ACTIVE,
                exists().where(SpotifyToken.user_id == SyncCheckpoint.user_id),
                or_(SyncCheckpoint.next_poll_at.is_(None), SyncCheckpoint.next_poll_at <= now),
                or_(
                    SyncCheckpoint.deferred_until.is_(None),
                    SyncCheckpoint.deferred_until <= now,
                ),
            )
            .order_by(SyncCheckpoint.next_poll_at.asc().nulls_first(), SyncCheckpoint.user_id)
            .limit(limit)
        )
        due = (
            await session.execute(query.with_for_update(skip_locked=True, of=SyncCheckpoint))
        ).all()
        if not due:
            return 0
        user_ids = [row.user_id for row in due]
        await session.execute(
            update(SyncCheckpoint)
            .where(SyncCheckpoint.user_id.in_(user_ids))
            .values(next_poll_at=now + self._interval)
        )
        backfilling = {InitialSyncStatus.PENDING, InitialSyncStatus.RUNNING}
        rows = [
            _pending_job(
                JobType.INITIAL_SYNC if row.initial_sync_status in backfilling else JobType.POLL,
                row.user_id,
                now,
            )
            for row in due
        ]
        # A conflict means the user already has one queued or running: nothing to add.
        return await insert_ignoring_conflicts(session, JobRun, rows)

    async def claim(self, session: AsyncSession, limit: int) -> list[ClaimedJob]:
        """Take up to `limit` pending user jobs, at most one per user, none for a busy user."""
        if limit <= 0:
            return []
        now = self._clock()
        running = aliased(JobRun)
        query = (
            select(JobRun.id, JobRun.user_id)
            .join(User, User.id == JobRun.user_id)
            .where(
                JobRun.status == JobStatus.PENDING,
                JobRun.job_type.in_(USER_JOB_TYPES),
                JobRun.scheduled_at <= now,
                User.status == UserStatus.ACTIVE,
                ~exists().where(
                    running.user_id == JobRun.user_id, running.status == JobStatus.RUNNING
                ),
            )
            .order_by(JobRun.scheduled_at, JobRun.id)
            .limit(limit * 2)
        )
        candidates = (
            await session.execute(query.with_for_update(skip_locked=True, of=JobRun))
        ).all()
        chosen: list[int] = []
        users: set[int | None] = set()
        for row in candidates:
            if row.user_id in users:
                continue
            users.add(row.user_id)
            chosen.append(row.id)
            if len(chosen) == limit:
                break
        if not chosen:
            return []
        result = await session.execute(
            update(JobRun)
            .where(JobRun.id.in_(chosen), JobRun.status == JobStatus.PENDING)
            .values(
                status=JobStatus.RUNNING,
                claimed_by=self.claimed_by,
                heartbeat_at=now,
                started_at=now,
                attempts=JobRun.attempts + 1,
            )
            .returning(JobRun.id, JobRun.job_type, JobRun.user_id, JobRun.attempts)
        )
        return [
            ClaimedJob(row.id, JobType(row.job_type), row.user_id, row.attempts, self.claimed_by)
            for row in result.all()
        ]

    async def claim_imports(self, session: AsyncSession, limit: int) -> list[int]:
        """Take up to `limit` pending imports nobody holds; returns their import job IDs."""
        if limit <= 0:
            return []
        now = self._clock()
        query = (
            select(ImportJob.id)
            .where(
                ImportJob.status == ImportStatus.PENDING,
                or_(
                    ImportJob.claimed_by.is_(None), ImportJob.heartbeat_at < now - self._stale_after
                ),
            )
            .order_by(ImportJob.created_at, ImportJob.id)
            .limit(limit)
        )
        ids = list(
            (await session.scalars(query.with_for_update(skip_locked=True, of=ImportJob))).all()
        )
        if not ids:
            return []
        result = await session.execute(
            update(ImportJob)
            .where(ImportJob.id.in_(ids), ImportJob.status == ImportStatus.PENDING)
            .values(claimed_by=self.claimed_by, heartbeat_at=now)
            .returning(ImportJob.id)
        )
        return list(result.scalars().all())

    async def heartbeat(
        self, session: AsyncSession, job_run_ids: Sequence[int], import_job_ids: Sequence[int]
    ) -> None:
        """Renew the heartbeat of the jobs and imports this collector is running."""
        now = self._clock()
        if job_run_ids:
            await session.execute(
                update(JobRun)
                .where(
                    JobRun.id.in_(job_run_ids),
                    JobRun.claimed_by == self.claimed_by,
                    JobRun.status == JobStatus.RUNNING,
                )
                .values(heartbeat_at=now)
            )
        if import_job_ids:
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id.in_(import_job_ids), ImportJob.claimed_by == self.claimed_by)
                .values(heartbeat_at=now)
            )

    async def release(
        self, session: AsyncSession, job_run_ids: Sequence[int], import_job_ids: Sequence[int]
    ) -> None:
        """Hand unfinished work back to the queue (shutdown); the claim does not count."""
        if job_run_ids:
            await session.execute(
                update(JobRun)
                .where(
                    JobRun.id.in_(job_run_ids),
                    JobRun.claimed_by == self.claimed_by,
                    JobRun.status == JobStatus.RUNNING,
                )
                .values(
                    status=JobStatus.PENDING,
                    claimed_by=None,
                    heartbeat_at=None,
                    attempts=JobRun.attempts - 1,
                )
            )
        if import_job_ids:
            await session.execute(
                update(ImportJob)
                .where(
                    ImportJob.id.in_(import_job_ids),
                    ImportJob.claimed_by == self.claimed_by,
                    ImportJob.status.in_((ImportStatus.PENDING, ImportStatus.RUNNING)),
                )
                .values(status=ImportStatus.PENDING, claimed_by=None, heartbeat_at=None)
            )

    async def recover_stale(self, session: AsyncSession) -> RecoveredJobs:
        """Requeue running work whose collector died; fail jobs that used up their attempts."""
        now = self._clock()
        cutoff = now - self._stale_after
        stale = and_(
            JobRun.status == JobStatus.RUNNING,
            or_(JobRun.heartbeat_at.is_(None), JobRun.heartbeat_at < cutoff),
        )
        failed = await session.execute(
            update(JobRun)
            .where(stale, JobRun.attempts >= self._max_attempts)
            .values(
                status=JobStatus.FAILED,
                finished_at=now,
                error_message=(
                    f"abandoned: its collector stopped heartbeating on each of "
                    f"{self._max_attempts} attempts"
                ),
            )
            .returning(JobRun.id)
        )
        requeued = await session.execute(
            update(JobRun)
            .where(stale)
            .values(status=JobStatus.PENDING, claimed_by=None, heartbeat_at=None)
            .returning(JobRun.id)
        )
        imports = await session.execute(
            update(ImportJob)
            .where(
                ImportJob.status.in_((ImportStatus.PENDING, ImportStatus.RUNNING)),
                ImportJob.claimed_by.is_not(None),
                or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < cutoff),
            )
            .values(status=ImportStatus.PENDING, claimed_by=None, heartbeat_at=None)
            .returning(ImportJob.id)
        )
        return RecoveredJobs(
            requeued=len(requeued.all()),
            failed=len(failed.all()),
            imports_requeued=len(imports.all()),
        )


def _pending_job(job_type: JobType, user_id: int, now: datetime) -> dict[str, Any]:
    return {
        "job_type": job_type,
        "status": JobStatus.PENDING,
        "user_id": user_id,
        "attempts": 0,
        "scheduled_at": now,
        "records_fetched": 0,
        "records_inserted": 0,
        "records_skipped": 0,
        "created_at": now,
    }
