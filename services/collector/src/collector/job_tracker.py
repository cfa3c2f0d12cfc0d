"""`JobTracker`: every job run recorded, and a failure recorded even when its work rolls back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from collector.claims import ClaimedJob
from shared.db.base import utc_now
from shared.db.enums import JobStatus
from shared.db.manager import DatabaseManager
from shared.db.models import JobRun

logger = logging.getLogger(__name__)

FetchedT = TypeVar("FetchedT")

# Long enough for any stack of Spotify and database messages, short enough for a table cell.
MAX_ERROR_LENGTH = 2000

FailureHook = Callable[[AsyncSession, BaseException], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a finished job did: counts for the job_runs columns, anything else in `stats`."""

    records_fetched: int = 0
    records_inserted: int = 0
    records_skipped: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


class LostClaimError(Exception):
    """The job is no longer ours (recovered as stale and taken by another collector)."""


class JobTracker:
    """Runs a job in two phases and records how it went on its job_runs row.

    The fetch phase talks to Spotify outside any transaction; the store phase and the
    success record share one write transaction (this tracker owns it). When either phase
    fails, that transaction rolls back and the failure is written in a fresh one.
    """

    def __init__(
        self, database: DatabaseManager, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._database = database
        self._clock = clock

    async def run(
        self,
        job: ClaimedJob,
        *,
        fetch: Callable[[], Awaitable[FetchedT]],
        store: Callable[[AsyncSession, FetchedT], Awaitable[JobOutcome]],
        on_failure: FailureHook | None = None,
        failure_stats: Callable[[BaseException], dict[str, Any] | None] | None = None,
    ) -> JobOutcome | None:
        """Fetch, then store and record success atomically; on error record the failure."""
        try:
            fetched = await fetch()
            async with self._database.session(write=True) as session:
                outcome = await store(session, fetched)
                await self.succeed(session, job, outcome)
        except LostClaimError:
            logger.warning("job was taken back from this collector; its work was discarded")
            return None
        except Exception as exc:
            stats = failure_stats(exc) if failure_stats is not None else None
            await self.record_failure(job, exc, stats=stats, on_failure=on_failure)
            return None
        logger.info(
            "job %s succeeded",
            job.job_type.value,
            extra={
                "records_fetched": outcome.records_fetched,
                "records_inserted": outcome.records_inserted,
                "stats": outcome.stats,
            },
        )
        return outcome

    async def succeed(self, session: AsyncSession, job: ClaimedJob, outcome: JobOutcome) -> None:
        """Mark the job succeeded inside the caller's transaction (flush, no commit)."""
        result = await session.execute(
            update(JobRun)
            .where(
                JobRun.id == job.job_run_id,
                JobRun.claimed_by == job.claimed_by,
                JobRun.status == JobStatus.RUNNING,
            )
            .values(
                status=JobStatus.SUCCEEDED,
                finished_at=self._clock(),
                records_fetched=outcome.records_fetched,
                records_inserted=outcome.records_inserted,
                records_skipped=outcome.records_skipped,
                stats=outcome.stats,
                error_message=None,
            )
        )
        if _rowcount(result) == 0:
            raise LostClaimError(f"job run {job.job_run_id} is no longer claimed by us")

    async def record_failure(
        self,
        job: ClaimedJob,
        error: BaseException,
        *,
        stats: dict[str, Any] | None = None,
        on_failure: FailureHook | None = None,
    ) -> None:
        """Write the failure in its own transaction, so the work's rollback cannot erase it."""
        message = describe_error(error)
        try:
            async with self._database.session(write=True) as session:
                values: dict[str, Any] = {
                    "status": JobStatus.FAILED,
                    "finished_at": self._clock(),
                    "error_message": message,
                }
                if stats is not None:
                    values["stats"] = stats
                await session.execute(
                    update(JobRun)
                    .where(JobRun.id == job.job_run_id, JobRun.claimed_by == job.claimed_by)
                    .values(values)
                )
                if on_failure is not None:
                    await on_failure(session, error)
        except Exception:
            # The database itself is failing: the job stays running and recovery retries it.
            logger.exception("could not record the failure of the job")
            return
        logger.warning("job %s failed: %s", job.job_type.value, message)


def describe_error(error: BaseException) -> str:
    """The error as stored on a job: its type and message, bounded in length."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
