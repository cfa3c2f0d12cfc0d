"""What the admin API accepts and returns; no body carries a token, an email or an IP.

The one exception is by design: the response creating a tool token holds that token, once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.auth.tool_tokens import NAME_MAX_LENGTH, ToolTokenService
from shared.db.enums import (
    ImportFormat,
    ImportStatus,
    InitialSyncStatus,
    JobStatus,
    JobType,
    TokenScope,
    UserStatus,
)
from shared.db.models import ApiToken, ImportJob
from shared.logging import redact_mapping, redact_text

# Error texts and log lines are written by code that may quote what Spotify or a file said;
# masking them again on the way out keeps a stray secret from reaching a response.
RedactedText = Annotated[str, AfterValidator(redact_text)]


def _redact_extra(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else redact_mapping(value)


RedactedExtra = Annotated[dict[str, Any] | None, AfterValidator(_redact_extra)]


def _assume_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# Every timestamp is stored in UTC; a filter given without a zone means UTC too.
UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]


class _FromRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserSummary(_FromRow):
    """A listener as shown in the users list."""

    id: int
    spotify_user_id: str
    display_name: str | None
    status: UserStatus
    status_reason: RedactedText | None
    timezone: str
    created_at: datetime
    updated_at: datetime


class PlayStats(BaseModel):
    """How much history is stored for a user."""

    count: int
    first_played_at: datetime | None
    last_played_at: datetime | None


class TokenState(BaseModel):
    """Whether Spotify tokens are stored and until when; never the tokens themselves."""

    stored: bool
    expires_at: datetime | None = None
    expired: bool | None = None
    scope: list[str] = Field(default_factory=list)


class CheckpointSummary(_FromRow):
    """Where the collector stands for one user."""

    initial_sync_status: InitialSyncStatus
    initial_sync_completed_at: datetime | None
    last_poll_started_at: datetime | None
    last_poll_completed_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    deferred_until: datetime | None
    consecutive_failures: int
    last_error: RedactedText | None


class UserDetail(UserSummary):
    """A listener with their history, token expiry and sync state."""

    plays: PlayStats
    token: TokenState
    sync: CheckpointSummary | None


class UserDeletion(BaseModel):
    """What deleting a user removed."""

    user_id: int
    plays: int
    import_jobs: int
    job_runs: int
    api_tokens: int
    log_entries: int
    stored_files: int = Field(description="Archive files removed once the deletion committed.")


class ImportProgress(BaseModel):
    """How far an import has got: records processed of the total, when the total is known."""

    records_processed: int
    records_total: int | None
    percent: float | None


class ImportJobOut(_FromRow):
    """An uploaded privacy export and how its import is going."""

    id: int
    user_id: int
    original_filename: str
    size_bytes: int
    sha256: str
    format: ImportFormat
    status: ImportStatus
    progress: ImportProgress
    records_inserted: int
    records_duplicate: int
    records_skipped: int
    skip_reasons: dict[str, int] | None
    error_message: RedactedText | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_job(cls, job: ImportJob) -> ImportJobOut:
        """The response for a stored import job, progress computed."""
        total = job.records_total
        percent = None
        if total:
            percent = round(min(100.0, 100.0 * job.records_processed / total), 1)
        elif total == 0:
            percent = 100.0
        return cls(
            id=job.id,
            user_id=job.user_id,
            original_filename=job.original_filename,
            size_bytes=job.size_bytes,
            sha256=job.sha256,
            format=job.format,
            status=job.status,
            progress=ImportProgress(
                records_processed=job.records_processed, records_total=total, percent=percent
            ),
            records_inserted=job.records_inserted,
            records_duplicate=job.records_duplicate,
            records_skipped=job.records_skipped,
            skip_reasons=job.skip_reasons,
            error_message=job.error_message,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class JobRunOut(_FromRow):
    """One unit of collector work."""

    id: int
    job_type: JobType
    status: JobStatus
    user_id: int | None
    import_job_id: int | None
    claimed_by: str | None
    attempts: int
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    records_fetched: int
    records_inserted: int
    records_skipped: int
    stats: RedactedExtra
    error_message: RedactedText | None
    created_at: datetime


class UserSyncState(BaseModel):
    """One user's polling state in the sync-status summary."""

    user_id: int
    spotify_user_id: str
    display_name: str | None
    status: UserStatus
    status_reason: RedactedText | None
    initial_sync_status: InitialSyncStatus | None
    last_poll_at: datetime | None = Field(description="When the last poll finished.")
    last_success_at: datetime | None
    next_poll_at: datetime | None
    deferred_until: datetime | None
    consecutive_failures: int
    last_error: RedactedText | None


class SyncStatusReport(BaseModel):
    """Every user's polling state, a page at a time, and how many users are in each status."""

    counts_by_status: dict[UserStatus, int]
    items: list[UserSyncState]
    total: int
    limit: int
    offset: int


class LogLevel(StrEnum):
    """Standard log levels, lowest first."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class LogEntryOut(_FromRow):
    """A stored log line."""

    id: int
    created_at: datetime
    service: str
    level: str
    logger: str
    message: RedactedText
    request_id: str | None
    user_id: int | None
    job_run_id: int | None
    import_job_id: int | None
    extra: RedactedExtra


class LogPurge(BaseModel):
    """How many log lines a purge deleted."""

    deleted: int


TokenName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        description="What the token is for, e.g. the client that uses it.",
        examples=["Claude on my laptop"],
    ),
    AfterValidator(ToolTokenService.clean_name),
]


class ToolTokenCreate(BaseModel):
    """A new tool token: only its name is chosen, the token itself is random."""

    name: TokenName


class ToolTokenOut(BaseModel):
    """A tool token as listed: never the token itself, nor anything it could be found from."""

    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    scope: TokenScope
    user_id: int | None = Field(description="The one user the token sees; null: every user.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(description="False once the token is revoked.")

    @classmethod
    def from_row(cls, row: ApiToken) -> ToolTokenOut:
        """The listing of a stored token."""
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.token_prefix,
            scope=row.scope,
            user_id=row.user_id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            active=row.revoked_at is None,
        )


class CreatedToolToken(ToolTokenOut):
    """A tool token just created, with the token itself: shown this once, never again."""

    token: str = Field(
        description="The bearer token for the tools. Only its hash is stored: "
        "it cannot be shown again, so keep it now."
    )
