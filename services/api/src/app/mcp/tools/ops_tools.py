"""`OpsToolHandlers`: how collection is going: users, sync state, job runs and imports."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.admin import queries as admin_queries
from app.admin.schemas import ImportJobOut, JobRunOut, UserDetail, UserSummary
from app.admin.service import AdminService
from app.mcp.registry import READ_ONLY_LOCAL, MCPToolRegistry, ToolContext
from app.mcp.tools.args import UserArgs
from shared.db.enums import ImportStatus, JobStatus, JobType, UserStatus
from shared.db.models import User

MAX_OPS_ITEMS = 50
MAX_USERS = 100


class SyncStatus(BaseModel):
    """A user's collection state: status, token expiry, polling checkpoint and stored plays."""

    user: UserDetail
    needs_reauthorisation: bool = Field(
        description="True when Spotify refused the stored login: the user must log in again "
        "at /auth/login before polling resumes."
    )


class LatestArgs(UserArgs):
    """A user and how many of the newest items to list."""

    limit: int = Field(default=10, ge=1, le=MAX_OPS_ITEMS, description="How many (1-50).")


class JobRunsArgs(LatestArgs):
    """Arguments of ops.latest_job_runs."""

    job_type: JobType | None = Field(default=None, description="Only this kind of job.")
    status: JobStatus | None = Field(default=None, description="Only jobs in this state.")


class ImportJobsArgs(LatestArgs):
    """Arguments of ops.latest_import_jobs."""

    status: ImportStatus | None = Field(default=None, description="Only imports in this state.")


class JobRuns(BaseModel):
    """The newest collector job runs of a user."""

    user_id: int
    total: int = Field(description="How many job runs match, of which `items` are the newest.")
    items: list[JobRunOut]


class ImportJobs(BaseModel):
    """The newest privacy-export imports of a user."""

    user_id: int
    total: int
    items: list[ImportJobOut]


class ListUsersArgs(BaseModel):
    """Arguments of ops.list_users."""

    model_config = ConfigDict(extra="forbid")

    status: UserStatus | None = Field(default=None, description="Only users in this state.")


class UserList(BaseModel):
    """The users this token may ask about (every user for the admin)."""

    total: int
    users: list[UserSummary]


class OpsToolHandlers:
    """The ops.* tools."""

    def __init__(self, admin: AdminService) -> None:
        self._admin = admin

    def register(self, registry: MCPToolRegistry) -> None:
        """Add the ops tools to the registry."""
        registry.add(
            name="ops.sync_status",
            title="Sync status",
            description="Whether the user's history is being collected: status (active, paused, "
            "reauth_required, error) with its reason, Spotify token expiry, last and next poll, "
            "the last error, and how many plays are stored.",
            args=UserArgs,
            output=SyncStatus,
            handler=self.sync_status,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="ops.latest_job_runs",
            title="Latest job runs",
            description="The user's newest collector jobs (polls, initial syncs, imports) with "
            "their state, counts and errors.",
            args=JobRunsArgs,
            output=JobRuns,
            handler=self.latest_job_runs,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="ops.latest_import_jobs",
            title="Latest imports",
            description="The user's newest privacy-export imports with progress, counts of "
            "plays added, duplicates and skipped records (and why), and errors.",
            args=ImportJobsArgs,
            output=ImportJobs,
            handler=self.latest_import_jobs,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="ops.list_users",
            title="List users",
            description="The users whose history is kept, with their IDs for the other tools "
            "(a user's own token sees only itself).",
            args=ListUsersArgs,
            output=UserList,
            handler=self.list_users,
            annotations=READ_ONLY_LOCAL,
        )

    async def sync_status(self, args: UserArgs, ctx: ToolContext) -> SyncStatus:
        """ops.sync_status."""
        user_id = ctx.caller.resolve_user(args.user_id)
        detail = await self._admin.user_detail(ctx.session, user_id)
        return SyncStatus(
            user=detail, needs_reauthorisation=detail.status == UserStatus.REAUTH_REQUIRED
        )

    async def latest_job_runs(self, args: JobRunsArgs, ctx: ToolContext) -> JobRuns:
        """ops.latest_job_runs."""
        user_id = ctx.caller.resolve_user(args.user_id)
        await self._admin.require_user(ctx.session, user_id)
        page = await self._admin.list_job_runs(
            ctx.session,
            user_id=user_id,
            job_type=args.job_type,
            status=args.status,
            limit=args.limit,
            offset=0,
        )
        return JobRuns(user_id=user_id, total=page.total, items=page.items)

    async def latest_import_jobs(self, args: ImportJobsArgs, ctx: ToolContext) -> ImportJobs:
        """ops.latest_import_jobs."""
        user_id = ctx.caller.resolve_user(args.user_id)
        await self._admin.require_user(ctx.session, user_id)
        page = await self._admin.list_imports(
            ctx.session, user_id=user_id, status=args.status, limit=args.limit, offset=0
        )
        return ImportJobs(user_id=user_id, total=page.total, items=page.items)

    async def list_users(self, args: ListUsersArgs, ctx: ToolContext) -> UserList:
        """ops.list_users."""
        if ctx.caller.user_id is not None:
            statement = select(User).where(User.id == ctx.caller.user_id)
            if args.status is not None:
                statement = statement.where(User.status == args.status)
            users = list(await ctx.session.scalars(statement))
            return UserList(total=len(users), users=[UserSummary.model_validate(u) for u in users])
        rows, total = await admin_queries.fetch_page(
            ctx.session,
            admin_queries.users_statement(status=args.status, q=None),
            limit=MAX_USERS,
            offset=0,
        )
        return UserList(total=total, users=[UserSummary.model_validate(u) for u in rows])
