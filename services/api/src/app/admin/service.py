"""`AdminService`: what the admin endpoints do; stateless, the session passed per call."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import anyio.to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin import queries
from app.admin.schemas import (
    CheckpointSummary,
    CreatedToolToken,
    ImportJobOut,
    JobRunOut,
    LogEntryOut,
    LogLevel,
    PlayStats,
    SyncStatusReport,
    TokenState,
    ToolTokenOut,
    UserDeletion,
    UserDetail,
    UserSummary,
    UserSyncState,
)
from app.admin.uploads import ArchiveReceiver, ReceivedArchive
from app.auth.tool_tokens import ToolTokenService, UnknownTokenUserError, UnknownToolTokenError
from app.errors import ConflictError, NotFoundError
from app.pagination import Page
from shared.db.base import utc_now
from shared.db.enums import ImportStatus, JobStatus, JobType, UserStatus
from shared.db.models import ImportJob, JobRun, User

_LEVEL_ORDER = list(LogLevel)


class AdminService:
    """Users, imports, job runs, sync status, logs and tool tokens, as the admin sees them."""

    def __init__(
        self, receiver: ArchiveReceiver, tool_tokens: ToolTokenService | None = None
    ) -> None:
        self._receiver = receiver
        self._tool_tokens = tool_tokens or ToolTokenService()

    # --- users ---------------------------------------------------------------------------

    async def list_users(
        self,
        session: AsyncSession,
        *,
        status: UserStatus | None,
        q: str | None,
        limit: int,
        offset: int,
    ) -> Page[UserSummary]:
        """A page of users, optionally filtered by status and a name or Spotify ID fragment."""
        rows, total = await queries.fetch_page(
            session, queries.users_statement(status=status, q=q), limit=limit, offset=offset
        )
        items = [UserSummary.model_validate(user) for user in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def require_user(self, session: AsyncSession, user_id: int) -> User:
        """The user with their token and checkpoint, or 404."""
        user = await queries.get_user(session, user_id)
        if user is None:
            raise NotFoundError(f"There is no user {user_id}.")
        return user

    async def user_detail(self, session: AsyncSession, user_id: int) -> UserDetail:
        """A user with play statistics, token expiry and sync state."""
        return await self._detail(session, await self.require_user(session, user_id))

    async def pause_user(self, session: AsyncSession, user_id: int) -> UserDetail:
        """Stop polling a user until resumed; pausing a paused user changes nothing."""
        user = await self.require_user(session, user_id)
        if user.status is UserStatus.REAUTH_REQUIRED:
            raise ConflictError(
                f"User {user_id} is not being polled already: it needs re-authorisation "
                "(the user must log in with Spotify again)."
            )
        if user.status is not UserStatus.PAUSED:
            user.status = UserStatus.PAUSED
            user.status_reason = "Paused by an admin."
            await session.flush()
        return await self._detail(session, user)

    async def resume_user(self, session: AsyncSession, user_id: int) -> UserDetail:
        """Poll a paused (or failed) user again; a user needing re-authorisation stays so."""
        user = await self.require_user(session, user_id)
        if user.status is UserStatus.REAUTH_REQUIRED:
            raise ConflictError(
                f"User {user_id} cannot be resumed: Spotify no longer accepts its authorisation. "
                "The user must log in with Spotify again, which makes it active."
            )
        if user.token is None:
            raise ConflictError(
                f"User {user_id} has no Spotify authorisation to poll with: "
                "the user must log in with Spotify first."
            )
        if user.status is not UserStatus.ACTIVE:
            user.status = UserStatus.ACTIVE
            user.status_reason = None
            await session.flush()
        return await self._detail(session, user)

    async def trigger_sync(self, session: AsyncSession, user_id: int) -> JobRunOut:
        """Enqueue a poll for the collector, unless the user cannot be polled or one is queued."""
        user = await self.require_user(session, user_id)
        if user.status is UserStatus.PAUSED:
            raise ConflictError(f"User {user_id} is paused: resume it before syncing.")
        if user.status is UserStatus.REAUTH_REQUIRED:
            raise ConflictError(
                f"User {user_id} needs re-authorisation: the user must log in with Spotify "
                "again before it can be synced."
            )
        if user.token is None:
            raise ConflictError(
                f"User {user_id} has no Spotify authorisation to poll with: "
                "the user must log in with Spotify first."
            )
        queued = await queries.active_poll_job(session, user_id)
        if queued is not None:
            raise ConflictError(
                f"A poll of user {user_id} is already {queued.status.value}: job run {queued.id}."
            )
        job = JobRun(
            job_type=JobType.POLL,
            status=JobStatus.PENDING,
            user_id=user_id,
            scheduled_at=utc_now(),
            attempts=0,
            records_fetched=0,
            records_inserted=0,
            records_skipped=0,
            created_at=utc_now(),
        )
        try:
            async with session.begin_nested():
                session.add(job)
        except IntegrityError as exc:
            # Another request enqueued one between our check and our insert.
            raise ConflictError(f"A poll of user {user_id} is already queued.") from exc
        return JobRunOut.model_validate(job)

    async def delete_user(self, session: AsyncSession, user_id: int) -> tuple[UserDeletion, Path]:
        """Delete a user's rows; returns what was removed and their archive folder to remove."""
        # The files go only after the commit (`remove_user_files`), so a failed commit never
        # leaves rows pointing at files that are gone.
        user = await self.require_user(session, user_id)
        paths = await queries.stored_import_paths(session, user_id)
        session.expunge(user)
        deleted = await queries.delete_user_rows(session, user_id)
        await session.flush()
        owned = [
            path
            for path in (self._receiver.import_dir / stored for stored in paths)
            if self._receiver.owns(path)
        ]
        summary = UserDeletion(
            user_id=user_id,
            plays=deleted.plays,
            import_jobs=deleted.import_jobs,
            job_runs=deleted.job_runs,
            api_tokens=deleted.api_tokens,
            log_entries=deleted.log_entries,
            stored_files=len(owned),
        )
        return summary, self._receiver.user_dir(user_id)

    async def remove_user_files(self, folder: Path) -> None:
        """Remove a deleted user's archive folder, uploads that never became jobs included."""
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))

    async def _detail(self, session: AsyncSession, user: User) -> UserDetail:
        plays = await queries.play_aggregate(session, user.id)
        token = TokenState(stored=False)
        if user.token is not None:
            token = TokenState(
                stored=True,
                expires_at=user.token.expires_at,
                expired=user.token.expires_at <= utc_now(),
                scope=user.token.scope.split(),
            )
        summary = UserSummary.model_validate(user)
        return UserDetail(
            **summary.model_dump(),
            plays=PlayStats(
                count=plays.count,
                first_played_at=plays.first_played_at,
                last_played_at=plays.last_played_at,
            ),
            token=token,
            sync=(
                CheckpointSummary.model_validate(user.checkpoint)
                if user.checkpoint is not None
                else None
            ),
        )

    # --- tool tokens ---------------------------------------------------------------------

    async def list_tool_tokens(self, session: AsyncSession, user_id: int) -> list[ToolTokenOut]:
        """A user's tool tokens, revoked ones included, oldest first; 404 for no such user."""
        await self.require_user(session, user_id)
        listed = await self._tool_tokens.list_tokens(session, user_id=user_id)
        return [ToolTokenOut.from_row(entry.row) for entry in listed]

    async def create_tool_token(
        self, session: AsyncSession, user_id: int, name: str
    ) -> CreatedToolToken:
        """A new token for one user's data, returned with its plaintext this only time."""
        try:
            issued = await self._tool_tokens.create_user_token(session, user_id, name)
        except UnknownTokenUserError as exc:
            raise NotFoundError(str(exc)) from exc
        listing = ToolTokenOut.from_row(issued.row)
        return CreatedToolToken(**listing.model_dump(), token=issued.plaintext)

    async def revoke_tool_token(self, session: AsyncSession, token_id: int) -> None:
        """Revoke a tool token (again, harmlessly, if it already is); 404 for no such token."""
        try:
            await self._tool_tokens.revoke(session, token_id)
        except UnknownToolTokenError as exc:
            raise NotFoundError(str(exc)) from exc

    # --- imports -------------------------------------------------------------------------

    async def register_import(
        self, session: AsyncSession, user_id: int, archive: ReceivedArchive
    ) -> ImportJobOut:
        """Record an uploaded archive as a pending import; 409 when the same file is known."""
        try:
            earlier = await queries.find_import_by_sha256(session, user_id, archive.sha256)
            if earlier is not None:
                raise ConflictError(
                    f"This archive was already uploaded for user {user_id}: import {earlier.id} "
                    f"({earlier.status.value})."
                )
            await archive.keep()
            job = ImportJob(
                user_id=user_id,
                original_filename=archive.original_filename,
                stored_path=archive.stored_path,
                size_bytes=archive.size_bytes,
                sha256=archive.sha256,
                status=ImportStatus.PENDING,
                records_processed=0,
                records_inserted=0,
                records_duplicate=0,
                records_skipped=0,
                created_at=utc_now(),
            )
            try:
                async with session.begin_nested():
                    session.add(job)
            except IntegrityError as exc:
                # The same archive arrived twice at once; the unique index kept one.
                raise ConflictError(
                    f"This archive was already uploaded for user {user_id}."
                ) from exc
        except BaseException:
            archive.discard()
            raise
        return ImportJobOut.from_job(job)

    async def list_imports(
        self,
        session: AsyncSession,
        *,
        user_id: int | None,
        status: ImportStatus | None,
        limit: int,
        offset: int,
    ) -> Page[ImportJobOut]:
        """A page of import jobs, newest first."""
        rows, total = await queries.fetch_page(
            session,
            queries.import_jobs_statement(user_id=user_id, status=status),
            limit=limit,
            offset=offset,
        )
        items = [ImportJobOut.from_job(job) for job in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def import_detail(self, session: AsyncSession, import_id: int) -> ImportJobOut:
        """One import job with its progress, or 404."""
        job = await session.get(ImportJob, import_id)
        if job is None:
            raise NotFoundError(f"There is no import {import_id}.")
        return ImportJobOut.from_job(job)

    # --- jobs, sync status ---------------------------------------------------------------

    async def list_job_runs(
        self,
        session: AsyncSession,
        *,
        user_id: int | None,
        job_type: JobType | None,
        status: JobStatus | None,
        limit: int,
        offset: int,
    ) -> Page[JobRunOut]:
        """A page of job runs, newest first."""
        rows, total = await queries.fetch_page(
            session,
            queries.job_runs_statement(user_id=user_id, job_type=job_type, status=status),
            limit=limit,
            offset=offset,
        )
        items = [JobRunOut.model_validate(job) for job in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def sync_status(
        self, session: AsyncSession, *, status: UserStatus | None, limit: int, offset: int
    ) -> SyncStatusReport:
        """Each user's polling state, and how many users are in each status."""
        rows, total = await queries.sync_states(session, status=status, limit=limit, offset=offset)
        items = [
            UserSyncState(
                user_id=user.id,
                spotify_user_id=user.spotify_user_id,
                display_name=user.display_name,
                status=user.status,
                status_reason=user.status_reason,
                initial_sync_status=checkpoint.initial_sync_status if checkpoint else None,
                last_poll_at=checkpoint.last_poll_completed_at if checkpoint else None,
                last_success_at=checkpoint.last_success_at if checkpoint else None,
                next_poll_at=checkpoint.next_poll_at if checkpoint else None,
                deferred_until=checkpoint.deferred_until if checkpoint else None,
                consecutive_failures=checkpoint.consecutive_failures if checkpoint else 0,
                last_error=checkpoint.last_error if checkpoint else None,
            )
            for user, checkpoint in rows
        ]
        return SyncStatusReport(
            counts_by_status=await queries.user_counts_by_status(session),
            items=items,
            total=total,
            limit=limit,
            offset=offset,
        )

    # --- logs ----------------------------------------------------------------------------

    async def list_logs(
        self,
        session: AsyncSession,
        *,
        service: str | None,
        level: LogLevel | None,
        user_id: int | None,
        request_id: str | None,
        text: str | None,
        since: datetime | None,
        limit: int,
        offset: int,
    ) -> Page[LogEntryOut]:
        """A page of log lines, newest first; `level` is the minimum level shown."""
        levels = None
        if level is not None:
            levels = [str(name) for name in _LEVEL_ORDER[_LEVEL_ORDER.index(level) :]]
        terms = queries.logs_filter(
            service=service,
            levels=levels,
            user_id=user_id,
            request_id=request_id,
            text=text,
            since=since,
        )
        rows, total = await queries.fetch_page(
            session, queries.logs_statement(terms), limit=limit, offset=offset
        )
        items = [LogEntryOut.model_validate(row) for row in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def purge_logs(self, session: AsyncSession, *, before: datetime | None) -> int:
        """Delete log lines older than `before`, or all of them; returns how many."""
        return await queries.purge_logs(session, before=before)
