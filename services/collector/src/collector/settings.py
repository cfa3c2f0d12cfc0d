"""Settings of the collector service."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from collector.imports.parser import ImportLimits
from shared.config import BaseServiceSettings

_MB = 1024 * 1024


class CollectorSettings(BaseServiceSettings):
    """Everything the collector reads from the environment."""

    collector_interval_seconds: int = Field(
        default=600, ge=10, description="How often each user's recently-played is polled."
    )
    collector_concurrency: int = Field(
        default=4, ge=1, le=64, description="How many jobs (users) one collector runs at once."
    )
    collector_shutdown_grace_seconds: int = Field(
        default=10, ge=0, description="On SIGTERM, how long in-flight jobs may finish."
    )
    collector_heartbeat_seconds: int = Field(
        default=15, ge=1, description="How often a running job's heartbeat is renewed."
    )
    collector_stale_after_seconds: int = Field(
        default=120, ge=10, description="A running job silent this long is queued again."
    )
    collector_max_attempts: int = Field(
        default=3, ge=1, description="Claims of one job before it is marked failed."
    )
    collector_initial_sync_max_requests: int = Field(
        default=20, ge=1, description="Cap on recently-played requests of a first back-fill."
    )
    import_dir: Path = Field(
        default=Path("./data/imports"),
        description="Where uploaded privacy-export ZIPs are stored (shared with the API).",
    )
    import_watch_dir: Path | None = Field(
        default=None,
        description="Archives dropped into <dir>/<spotify_user_id>/ are imported; empty: off.",
    )
    import_batch_size: int = Field(
        default=50_000, ge=100, le=100_000, description="Records per import write transaction."
    )
    import_max_uncompressed_mb: int = Field(
        default=4096, ge=1, description="Cap on the streaming history's total expanded size."
    )
    import_max_member_mb: int = Field(
        default=512, ge=1, description="Cap on one streaming-history file's expanded size."
    )
    import_max_compression_ratio: int = Field(
        default=100, ge=2, description="Cap on a file's expansion ratio (zip bomb guard)."
    )

    @field_validator("import_watch_dir", mode="before")
    @classmethod
    def _blank_watch_dir_is_off(cls, value: object) -> object:
        # .env.example ships `IMPORT_WATCH_DIR=`; read as a path that would be the cwd.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def import_limits(self) -> ImportLimits:
        """The import caps, in bytes."""
        return ImportLimits(
            max_uncompressed_bytes=self.import_max_uncompressed_mb * _MB,
            max_member_bytes=self.import_max_member_mb * _MB,
            max_compression_ratio=self.import_max_compression_ratio,
        )
