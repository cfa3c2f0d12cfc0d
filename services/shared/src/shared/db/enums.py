"""Closed sets of values stored in the database."""

from enum import StrEnum


class UserStatus(StrEnum):
    """Whether the collector works for a user."""

    ACTIVE = "active"
    PAUSED = "paused"
    REAUTH_REQUIRED = "reauth_required"
    ERROR = "error"


class PlaySource(StrEnum):
    """Where a play came from."""

    API = "api"
    EXTENDED_EXPORT = "extended_export"
    ACCOUNT_EXPORT = "account_export"


class ItemKind(StrEnum):
    """What was played."""

    TRACK = "track"
    EPISODE = "episode"
    AUDIOBOOK = "audiobook"


class JobType(StrEnum):
    """A unit of collector work."""

    POLL = "poll"
    INITIAL_SYNC = "initial_sync"
    IMPORT = "import"
    ENRICHMENT = "enrichment"


class JobStatus(StrEnum):
    """Life cycle of a job run."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ImportStatus(StrEnum):
    """Life cycle of an uploaded archive."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"


class ImportFormat(StrEnum):
    """The kind of privacy export found in an archive."""

    UNKNOWN = "unknown"
    EXTENDED = "extended"
    ACCOUNT_DATA = "account_data"
    MIXED = "mixed"


class InitialSyncStatus(StrEnum):
    """Progress of a user's first back-fill."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class TokenScope(StrEnum):
    """What a tool token may see."""

    ADMIN = "admin"
    USER = "user"
