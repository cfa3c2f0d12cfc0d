"""`AdminRouter`: the admin API under /admin, every route behind `AdminAuthProvider`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response

from app.admin.auth import AdminAuthProvider
from app.admin.schemas import (
    CreatedToolToken,
    ImportJobOut,
    JobRunOut,
    LogEntryOut,
    LogLevel,
    LogPurge,
    SyncStatusReport,
    ToolTokenCreate,
    ToolTokenOut,
    UserDeletion,
    UserDetail,
    UserSummary,
    UtcDatetime,
)
from app.admin.service import AdminService
from app.admin.uploads import UPLOAD_FIELD, ArchiveReceiver
from app.dependencies import DbSession
from app.errors import ErrorEnvelope
from app.pagination import Limit, Offset, Page
from app.params import IdPath, UserIdPath, UserIdQuery
from shared.db.enums import ImportStatus, JobStatus, JobType, UserStatus

_NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters

UserStatusFilter = Annotated[UserStatus | None, Query(description="Only users in this status.")]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


_NOT_FOUND_USER: dict[int | str, dict[str, Any]] = {404: _error("No user has this id.")}


class AdminRouter:
    """Users, imports, job runs, sync status, logs and tool tokens for the admin UI and scripts."""

    def __init__(
        self, service: AdminService, receiver: ArchiveReceiver, auth: AdminAuthProvider
    ) -> None:
        self._service = service
        self._receiver = receiver
        self.router = APIRouter(
            prefix="/admin",
            tags=["admin"],
            dependencies=[Depends(auth)],
            responses={401: _error("Admin credentials are missing or wrong.")},
        )
        route = self.router.add_api_route
        route("/users", self.list_users, methods=["GET"], response_model=Page[UserSummary])
        route(
            "/users/{user_id}",
            self.get_user,
            methods=["GET"],
            response_model=UserDetail,
            responses=_NOT_FOUND_USER,
        )
        route(
            "/users/{user_id}",
            self.delete_user,
            methods=["DELETE"],
            response_model=UserDeletion,
            responses=_NOT_FOUND_USER,
        )
        route(
            "/users/{user_id}/pause",
            self.pause_user,
            methods=["POST"],
            response_model=UserDetail,
            responses={**_NOT_FOUND_USER, 409: _error("The user needs re-authorisation.")},
        )
        route(
            "/users/{user_id}/resume",
            self.resume_user,
            methods=["POST"],
            response_model=UserDetail,
            responses={
                **_NOT_FOUND_USER,
                409: _error("The user needs re-authorisation, or has no Spotify tokens."),
            },
        )
        route(
            "/users/{user_id}/trigger-sync",
            self.trigger_sync,
            methods=["POST"],
            status_code=202,
            response_model=JobRunOut,
            responses={
                **_NOT_FOUND_USER,
                409: _error(
                    "The user is paused or needs re-authorisation, or a poll is already queued."
                ),
            },
        )
        route(
            "/users/{user_id}/imports",
            self.upload_import,
            methods=["POST"],
            status_code=201,
            response_model=ImportJobOut,
            responses={
                400: _error("The upload is not a ZIP archive or not a well-formed form."),
                **_NOT_FOUND_USER,
                409: _error("The same archive was already uploaded for this user."),
                413: _error("The archive is larger than IMPORT_MAX_ZIP_SIZE_MB."),
                415: _error("The body is not multipart/form-data."),
            },
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": [UPLOAD_FIELD],
                                "properties": {
                                    UPLOAD_FIELD: {
                                        "type": "string",
                                        "format": "binary",
                                        "description": "The privacy-export ZIP from Spotify.",
                                    }
                                },
                            }
                        }
                    },
                }
            },
        )
        route(
            "/users/{user_id}/tokens",
            self.list_tool_tokens,
            methods=["GET"],
            response_model=list[ToolTokenOut],
            responses=_NOT_FOUND_USER,
        )
        route(
            "/users/{user_id}/tokens",
            self.create_tool_token,
            methods=["POST"],
            status_code=201,
            response_model=CreatedToolToken,
            responses=_NOT_FOUND_USER,
        )
        route(
            "/tokens/{token_id}",
            self.revoke_tool_token,
            methods=["DELETE"],
            status_code=204,
            response_class=Response,
            responses={404: _error("No tool token has this id.")},
        )
        route("/imports", self.list_imports, methods=["GET"], response_model=Page[ImportJobOut])
        route(
            "/imports/{import_id}",
            self.get_import,
            methods=["GET"],
            response_model=ImportJobOut,
            responses={404: _error("No import has this id.")},
        )
        route("/jobs", self.list_jobs, methods=["GET"], response_model=Page[JobRunOut])
        route("/sync-status", self.sync_status, methods=["GET"], response_model=SyncStatusReport)
        route("/logs", self.list_logs, methods=["GET"], response_model=Page[LogEntryOut])
        route("/logs", self.purge_logs, methods=["DELETE"], response_model=LogPurge)

    async def list_users(
        self,
        session: DbSession,
        status: UserStatusFilter = None,
        q: Annotated[
            str | None,
            Query(
                max_length=255,
                pattern=_NO_NUL,
                description="Case-insensitive part of the display name or Spotify user ID.",
            ),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[UserSummary]:
        """List users by id, optionally filtered by status and by name or Spotify user ID."""
        return await self._service.list_users(
            session, status=status, q=q, limit=limit, offset=offset
        )

    async def get_user(self, user_id: UserIdPath, session: DbSession) -> UserDetail:
        """One user: plays (count, first, last), token expiry (never a token), sync state."""
        return await self._service.user_detail(session, user_id)

    async def pause_user(self, user_id: UserIdPath, session: DbSession) -> UserDetail:
        """Stop polling a user until resumed; 409 for a user that needs re-authorisation."""
        return await self._service.pause_user(session, user_id)

    async def resume_user(self, user_id: UserIdPath, session: DbSession) -> UserDetail:
        """Poll a paused or failed user again; 409 if it needs re-authorisation (log in again)."""
        return await self._service.resume_user(session, user_id)

    async def trigger_sync(self, user_id: UserIdPath, session: DbSession) -> JobRunOut:
        """Queue a poll for the collector; 409 if the user can't be polled or one is queued."""
        return await self._service.trigger_sync(session, user_id)

    async def delete_user(
        self, user_id: UserIdPath, session: DbSession, background: BackgroundTasks
    ) -> UserDeletion:
        """Delete a user with all their plays, tokens, imports and files, jobs and log lines."""
        summary, folder = await self._service.delete_user(session, user_id)
        # Runs after the response's transaction committed.
        background.add_task(self._service.remove_user_files, folder)
        return summary

    async def upload_import(
        self, user_id: UserIdPath, request: Request, session: DbSession
    ) -> ImportJobOut:
        """Upload a privacy-export ZIP (multipart field `file`) for the collector to import."""
        await self._service.require_user(session, user_id)  # 404 before reading the body
        # End the read transaction: an upload can take minutes and must not hold a
        # connection (or SQLite's WAL) open meanwhile. Nothing was written.
        await session.commit()
        archive = await self._receiver.receive(
            user_id,
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
        )
        return await self._service.register_import(session, user_id, archive)

    async def list_tool_tokens(self, user_id: UserIdPath, session: DbSession) -> list[ToolTokenOut]:
        """A user's tool tokens, revoked ones included; never a token itself, only its prefix."""
        return await self._service.list_tool_tokens(session, user_id)

    async def create_tool_token(
        self, user_id: UserIdPath, body: ToolTokenCreate, session: DbSession
    ) -> CreatedToolToken:
        """Create a tool token that sees only this user's data.

        The response holds the token itself (`token`) this once: only its hash is stored,
        so it cannot be shown again. Give it to the AI client as its bearer token.
        """
        return await self._service.create_tool_token(session, user_id, body.name)

    async def revoke_tool_token(self, token_id: IdPath, session: DbSession) -> None:
        """Revoke a tool token: it stops working at once. Revoking it again changes nothing."""
        await self._service.revoke_tool_token(session, token_id)

    async def list_imports(
        self,
        session: DbSession,
        user_id: UserIdQuery = None,
        status: Annotated[
            ImportStatus | None, Query(description="Only imports in this status.")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[ImportJobOut]:
        """List uploaded archives and their import progress, newest first."""
        return await self._service.list_imports(
            session, user_id=user_id, status=status, limit=limit, offset=offset
        )

    async def get_import(self, import_id: IdPath, session: DbSession) -> ImportJobOut:
        """One import with its progress: records processed of the total, and a percentage."""
        return await self._service.import_detail(session, import_id)

    async def list_jobs(
        self,
        session: DbSession,
        user_id: UserIdQuery = None,
        job_type: Annotated[JobType | None, Query(description="Only jobs of this type.")] = None,
        status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[JobRunOut]:
        """List the collector's job runs (polls, initial syncs, imports), newest first."""
        return await self._service.list_job_runs(
            session, user_id=user_id, job_type=job_type, status=status, limit=limit, offset=offset
        )

    async def sync_status(
        self,
        session: DbSession,
        status: UserStatusFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> SyncStatusReport:
        """Each user's polling state (last and next poll, errors) and user counts by status."""
        return await self._service.sync_status(session, status=status, limit=limit, offset=offset)

    async def list_logs(
        self,
        session: DbSession,
        service: Annotated[
            str | None,
            Query(max_length=32, pattern=_NO_NUL, description="Only lines of this service."),
        ] = None,
        level: Annotated[
            LogLevel | None, Query(description="Only lines at this level or above.")
        ] = None,
        user_id: UserIdQuery = None,
        request_id: Annotated[
            str | None,
            Query(max_length=64, pattern=_NO_NUL, description="Only lines of this request."),
        ] = None,
        text: Annotated[
            str | None,
            Query(
                max_length=200,
                pattern=_NO_NUL,
                description="Case-insensitive text the message contains.",
            ),
        ] = None,
        since: Annotated[
            UtcDatetime | None,
            Query(description="Only lines from this time on (ISO 8601; UTC if no zone)."),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[LogEntryOut]:
        """Search the stored log lines, newest first."""
        return await self._service.list_logs(
            session,
            service=service,
            level=level,
            user_id=user_id,
            request_id=request_id,
            text=text,
            since=since,
            limit=limit,
            offset=offset,
        )

    async def purge_logs(
        self,
        session: DbSession,
        before: Annotated[
            UtcDatetime | None,
            Query(description="Delete only lines older than this (ISO 8601; UTC if no zone)."),
        ] = None,
    ) -> LogPurge:
        """Delete stored log lines older than `before`, or all of them; returns how many."""
        return LogPurge(deleted=await self._service.purge_logs(session, before=before))
