"""SQL of the admin API; every statement runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Delete,
    Select,
    delete,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.db.enums import ImportStatus, JobStatus, JobType, UserStatus
from shared.db.models import (
    ApiToken,
    ImportJob,
    JobRun,
    LogEntry,
    Play,
    SpotifyToken,
    SyncCheckpoint,
    User,
)

T = TypeVar("T")

# An archive in one of these states blocks another upload of the same file; a failed
# import does not, so it can be retried.
BLOCKING_IMPORT_STATUSES = (
    ImportStatus.PENDING,
    ImportStatus.RUNNING,
    ImportStatus.SUCCEEDED,
    ImportStatus.PARTIAL,
)
ACTIVE_JOB_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


async def fetch_page(
    session: AsyncSession, statement: Select[T], *, limit: int, offset: int
) -> tuple[Sequence[T], int]:
    """One page of an ordered single-entity SELECT, and how many rows match in all."""
    total = int(
        await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
        or 0
    )
    if offset >= total:
        # Past the end: nothing to read, and an offset beyond 64 bits never reaches a driver.
        return [], total
    rows = (await session.scalars(statement.limit(limit).offset(offset))).all()
    return rows, total


def users_statement(*, status: UserStatus | None, q: str | None) -> Select[User]:
    """Users by id, optionally of one status and matching a name or Spotify ID fragment."""
    statement = select(User).order_by(User.id)
    if status is not None:
        statement = statement.where(User.status == status)
    if q:
        statement = statement.where(
            or_(
                User.display_name.icontains(q, autoescape=True),
                User.spotify_user_id.icontains(q, autoescape=True),
            )
        )
    return statement


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    """A user with their token and checkpoint loaded."""
    return await session.scalar(
        select(User)
        .where(User.id == user_id)
        .options(selectinload(User.token), selectinload(User.checkpoint))
    )


@dataclass(frozen=True)
class PlayAggregate:
    """Count and time span of a user's plays."""

    count: int
    first_played_at: datetime | None
    last_played_at: datetime | None


async def play_aggregate(session: AsyncSession, user_id: int) -> PlayAggregate:
    """How many plays a user has, and the first and last of them."""
    if session.get_bind().dialect.name == "postgresql":
        # Connections start no parallel workers (see shared.db.manager); counting a long
        # history is the exception where two of them halve the time.
        await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 2"))
    row = (
        await session.execute(
            select(func.count(Play.id), func.min(Play.played_at), func.max(Play.played_at)).where(
                Play.user_id == user_id
            )
        )
    ).one()
    return PlayAggregate(count=int(row[0]), first_played_at=row[1], last_played_at=row[2])


async def active_poll_job(session: AsyncSession, user_id: int) -> JobRun | None:
    """A poll job for the user that is still pending or running, if any."""
    return await session.scalar(
        select(JobRun)
        .where(
            JobRun.user_id == user_id,
            JobRun.job_type == JobType.POLL,
            JobRun.status.in_(ACTIVE_JOB_STATUSES),
        )
        .order_by(JobRun.id)
        .limit(1)
    )


async def find_import_by_sha256(
    session: AsyncSession, user_id: int, sha256: str
) -> ImportJob | None:
    """The user's earlier import of the same archive that was not a failure, if any."""
    return await session.scalar(
        select(ImportJob)
        .where(
            ImportJob.user_id == user_id,
            ImportJob.sha256 == sha256,
            ImportJob.status.in_(BLOCKING_IMPORT_STATUSES),
        )
        .order_by(ImportJob.id)
        .limit(1)
    )


def import_jobs_statement(*, user_id: int | None, status: ImportStatus | None) -> Select[ImportJob]:
    """Import jobs, newest first, optionally of one user and one status."""
    statement = select(ImportJob).order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
    if user_id is not None:
        statement = statement.where(ImportJob.user_id == user_id)
    if status is not None:
        statement = statement.where(ImportJob.status == status)
    return statement


def job_runs_statement(
    *, user_id: int | None, job_type: JobType | None, status: JobStatus | None
) -> Select[JobRun]:
    """Job runs, newest first, optionally of one user, type and status."""
    statement = select(JobRun).order_by(JobRun.created_at.desc(), JobRun.id.desc())
    if user_id is not None:
        statement = statement.where(JobRun.user_id == user_id)
    if job_type is not None:
        statement = statement.where(JobRun.job_type == job_type)
    if status is not None:
        statement = statement.where(JobRun.status == status)
    return statement


async def sync_states(
    session: AsyncSession, *, status: UserStatus | None, limit: int, offset: int
) -> tuple[Sequence[tuple[User, SyncCheckpoint | None]], int]:
    """Users by id with their checkpoints (None before the first login), and the total."""
    statement = (
        select(User, SyncCheckpoint)
        .outerjoin(SyncCheckpoint, SyncCheckpoint.user_id == User.id)
        .order_by(User.id)
    )
    count = select(func.count(User.id))
    if status is not None:
        statement = statement.where(User.status == status)
        count = count.where(User.status == status)
    total = int(await session.scalar(count) or 0)
    if offset >= total:
        return [], total
    rows = (await session.execute(statement.limit(limit).offset(offset))).all()
    return rows, total


async def user_counts_by_status(session: AsyncSession) -> dict[UserStatus, int]:
    """How many users are in each status (zero for the statuses nobody is in)."""
    rows = await session.execute(select(User.status, func.count(User.id)).group_by(User.status))
    counts = dict.fromkeys(UserStatus, 0)
    counts.update({status: int(count) for status, count in rows})
    return counts


def logs_filter(
    *,
    service: str | None,
    levels: Sequence[str] | None,
    user_id: int | None,
    request_id: str | None,
    text: str | None,
    since: datetime | None,
) -> list[ColumnElement[bool]]:
    """The WHERE terms of a log search."""
    terms: list[ColumnElement[bool]] = []
    if service is not None:
        terms.append(LogEntry.service == service)
    if levels is not None:
        terms.append(LogEntry.level.in_(levels))
    if user_id is not None:
        terms.append(LogEntry.user_id == user_id)
    if request_id is not None:
        terms.append(LogEntry.request_id == request_id)
    if text:
        # icontains renders ILIKE on PostgreSQL and lower() LIKE lower() on SQLite.
        terms.append(LogEntry.message.icontains(text, autoescape=True))
    if since is not None:
        terms.append(LogEntry.created_at >= since)
    return terms


def logs_statement(terms: Sequence[ColumnElement[bool]]) -> Select[LogEntry]:
    """Log lines matching the terms, newest first."""
    return select(LogEntry).where(*terms).order_by(LogEntry.created_at.desc(), LogEntry.id.desc())


async def purge_logs(session: AsyncSession, *, before: datetime | None) -> int:
    """Delete log lines older than `before` (all of them without it); returns how many."""
    statement = delete(LogEntry)
    if before is not None:
        statement = statement.where(LogEntry.created_at < before)
    return await _delete(session, statement)


@dataclass(frozen=True)
class DeletedRows:
    """Row counts removed with a user."""

    plays: int
    import_jobs: int
    job_runs: int
    api_tokens: int
    log_entries: int


async def stored_import_paths(session: AsyncSession, user_id: int) -> list[str]:
    """Where the user's uploaded archives are stored."""
    return list(
        (await session.scalars(select(ImportJob.stored_path).where(ImportJob.user_id == user_id)))
        .unique()
        .all()
    )


async def delete_user_rows(session: AsyncSession, user_id: int) -> DeletedRows:
    """Delete a user and every row that belongs to them, children first.

    Explicit deletes rather than relying on ON DELETE CASCADE: SQLite enforces foreign keys
    only per connection, and logs and job runs tied to the user's imports name no user.
    """
    import_ids = select(ImportJob.id).where(ImportJob.user_id == user_id).scalar_subquery()
    job_ids = (
        select(JobRun.id)
        .where(or_(JobRun.user_id == user_id, JobRun.import_job_id.in_(import_ids)))
        .scalar_subquery()
    )
    log_entries = await _delete(
        session,
        delete(LogEntry).where(
            or_(
                LogEntry.user_id == user_id,
                LogEntry.import_job_id.in_(import_ids),
                LogEntry.job_run_id.in_(job_ids),
            )
        ),
    )
    job_runs = await _delete(
        session,
        delete(JobRun).where(or_(JobRun.user_id == user_id, JobRun.import_job_id.in_(import_ids))),
    )
    plays = await _delete(session, delete(Play).where(Play.user_id == user_id))
    import_jobs = await _delete(session, delete(ImportJob).where(ImportJob.user_id == user_id))
    api_tokens = await _delete(session, delete(ApiToken).where(ApiToken.user_id == user_id))
    await _delete(session, delete(SyncCheckpoint).where(SyncCheckpoint.user_id == user_id))
    await _delete(session, delete(SpotifyToken).where(SpotifyToken.user_id == user_id))
    await _delete(session, delete(User).where(User.id == user_id))
    return DeletedRows(
        plays=plays,
        import_jobs=import_jobs,
        job_runs=job_runs,
        api_tokens=api_tokens,
        log_entries=log_entries,
    )


async def _delete(session: AsyncSession, statement: Delete) -> int:
    # Bulk deletes skip the identity map; callers expunge what they loaded.
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(cast("CursorResult[Any]", result).rowcount)
