"""ORM models: the tables of DESIGN §4, with the constraints and indexes the queries need."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db.base import Base, BigIntPK, JSONDocument, enum_values, utc_now
from shared.db.enums import (
    ImportFormat,
    ImportStatus,
    InitialSyncStatus,
    ItemKind,
    JobStatus,
    JobType,
    PlaySource,
    TokenScope,
    UserStatus,
)

_ACTIVE_SYNC = text(
    "status IN ('pending', 'running') AND job_type IN ('poll', 'initial_sync') "
    "AND user_id IS NOT NULL"
)
_LIVE_IMPORT = text("status IN ('pending', 'running', 'succeeded', 'partial')")


def _enum(enum_cls: type[StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a named CHECK constraint on both dialects."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=enum_values,
        length=32,
        validate_strings=True,
    )


class TimestampMixin:
    """created_at / updated_at maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class User(TimestampMixin, Base):
    """A listener whose history is kept: authorised through Spotify, or import-only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spotify_user_id: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(8))
    product: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[UserStatus] = mapped_column(
        _enum(UserStatus, "user_status"), default=UserStatus.ACTIVE, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(Text)

    token: Mapped[SpotifyToken | None] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )
    checkpoint: Mapped[SyncCheckpoint | None] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class SpotifyToken(TimestampMixin, Base):
    """A user's Spotify tokens, both encrypted at rest."""

    __tablename__ = "spotify_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str] = mapped_column(Text)
    token_type: Mapped[str] = mapped_column(String(32), default="Bearer")
    scope: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="token", lazy="raise")


class Artist(TimestampMixin, Base):
    """An artist: the Spotify artist ID, or `local:<sha1>` when an export gives only a name."""

    __tablename__ = "artists"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    genres: Mapped[list[str] | None] = mapped_column(JSONDocument)

    __table_args__ = (Index("ix_artists_name", "name"),)


class Track(TimestampMixin, Base):
    """A playable item: the Spotify ID when known, `local:<sha1>` only when there is none."""

    __tablename__ = "tracks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[ItemKind] = mapped_column(_enum(ItemKind, "item_kind"), default=ItemKind.TRACK)
    name: Mapped[str] = mapped_column(String(512))
    album_id: Mapped[str | None] = mapped_column(String(64))
    album_name: Mapped[str | None] = mapped_column(String(512))
    show_name: Mapped[str | None] = mapped_column(String(512))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    isrc: Mapped[str | None] = mapped_column(String(32))
    explicit: Mapped[bool | None] = mapped_column(Boolean)

    artists: Mapped[list[TrackArtist]] = relationship(
        back_populates="track",
        lazy="raise",
        order_by="TrackArtist.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (Index("ix_tracks_name", "name"),)


class TrackArtist(Base):
    """Which artists made a track, in credit order."""

    __tablename__ = "track_artists"

    track_id: Mapped[str] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    artist_id: Mapped[str] = mapped_column(
        ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    track: Mapped[Track] = relationship(back_populates="artists", lazy="raise")
    artist: Mapped[Artist] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_track_artists_artist_id_track_id", "artist_id", "track_id"),
        CheckConstraint("position >= 0", name="position_non_negative"),
    )


class Play(Base):
    """One listen: unique per (user, played_at, track); played_at is when the play ended."""

    __tablename__ = "plays"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    track_id: Mapped[str] = mapped_column(ForeignKey("tracks.id", ondelete="RESTRICT"))
    played_at: Mapped[datetime]
    ms_played: Mapped[int] = mapped_column(Integer)
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "play_item_kind"), default=ItemKind.TRACK
    )
    source: Mapped[PlaySource] = mapped_column(_enum(PlaySource, "play_source"))
    context_type: Mapped[str | None] = mapped_column(String(32))
    context_uri: Mapped[str | None] = mapped_column(String(255))
    reason_start: Mapped[str | None] = mapped_column(String(64))
    reason_end: Mapped[str | None] = mapped_column(String(64))
    skipped: Mapped[bool | None] = mapped_column(Boolean)
    shuffle: Mapped[bool | None] = mapped_column(Boolean)
    offline: Mapped[bool | None] = mapped_column(Boolean)
    platform: Mapped[str | None] = mapped_column(String(255))
    import_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_jobs.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    __table_args__ = (
        UniqueConstraint("user_id", "played_at", "track_id"),
        Index("ix_plays_user_id_track_id", "user_id", "track_id"),
        Index("ix_plays_import_job_id", "import_job_id"),
        CheckConstraint("ms_played >= 0", name="ms_played_non_negative"),
    )


class AudioFeatures(Base):
    """Spotify's audio features of a track, filled by enrichment where Spotify still allows it."""

    __tablename__ = "audio_features"

    track_id: Mapped[str] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    danceability: Mapped[float | None] = mapped_column(Float)
    energy: Mapped[float | None] = mapped_column(Float)
    key: Mapped[int | None] = mapped_column(Integer)
    loudness: Mapped[float | None] = mapped_column(Float)
    mode: Mapped[int | None] = mapped_column(Integer)
    speechiness: Mapped[float | None] = mapped_column(Float)
    acousticness: Mapped[float | None] = mapped_column(Float)
    instrumentalness: Mapped[float | None] = mapped_column(Float)
    liveness: Mapped[float | None] = mapped_column(Float)
    valence: Mapped[float | None] = mapped_column(Float)
    tempo: Mapped[float | None] = mapped_column(Float)
    time_signature: Mapped[int | None] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(default=utc_now)


class SyncCheckpoint(Base):
    """Per user: the initial back-fill, the polling cursor and schedule, the last error."""

    __tablename__ = "sync_checkpoints"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    initial_sync_status: Mapped[InitialSyncStatus] = mapped_column(
        _enum(InitialSyncStatus, "initial_sync_status"), default=InitialSyncStatus.PENDING
    )
    initial_sync_started_at: Mapped[datetime | None]
    initial_sync_completed_at: Mapped[datetime | None]
    after_cursor_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_poll_started_at: Mapped[datetime | None]
    last_poll_completed_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    deferred_until: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    user: Mapped[User] = relationship(back_populates="checkpoint", lazy="raise")


class ImportJob(Base):
    """An uploaded privacy-export archive and the progress of its import."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    original_filename: Mapped[str] = mapped_column(String(512))
    # Relative to IMPORT_DIR (`<user_id>/<uuid>.zip`): api and collector may mount it apart.
    stored_path: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[ImportFormat] = mapped_column(
        _enum(ImportFormat, "import_format"), default=ImportFormat.UNKNOWN
    )
    status: Mapped[ImportStatus] = mapped_column(
        _enum(ImportStatus, "import_status"), default=ImportStatus.PENDING
    )
    records_total: Mapped[int | None] = mapped_column(Integer)
    records_processed: Mapped[int] = mapped_column(Integer, default=0)
    records_inserted: Mapped[int] = mapped_column(Integer, default=0)
    records_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    records_skipped: Mapped[int] = mapped_column(Integer, default=0)
    skip_reasons: Mapped[dict[str, int] | None] = mapped_column(JSONDocument)
    error_message: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_import_jobs_user_id_sha256", "user_id", "sha256"),
        # The same archive is imported once per user; a failed import may be uploaded again.
        Index(
            "uq_import_jobs_live_archive_per_user",
            "user_id",
            "sha256",
            unique=True,
            sqlite_where=_LIVE_IMPORT,
            postgresql_where=_LIVE_IMPORT,
        ),
        Index("ix_import_jobs_status_created_at", "status", "created_at"),
    )


class JobRun(Base):
    """Every unit of collector work: what, for whom, who claimed it, how it went."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_type: Mapped[JobType] = mapped_column(_enum(JobType, "job_type"))
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), default=JobStatus.PENDING
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    import_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_jobs.id", ondelete="CASCADE")
    )
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    records_fetched: Mapped[int] = mapped_column(Integer, default=0)
    records_inserted: Mapped[int] = mapped_column(Integer, default=0)
    records_skipped: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    __table_args__ = (
        Index("ix_job_runs_status_scheduled_at", "status", "scheduled_at"),
        Index("ix_job_runs_user_id_created_at", "user_id", "created_at"),
        Index("ix_job_runs_created_at", "created_at"),
        Index("ix_job_runs_import_job_id", "import_job_id"),
        # At most one queued or running poll or initial sync per user, whoever enqueues it
        # (API replicas, collectors): the database settles the race, not a SELECT.
        Index(
            "uq_job_runs_active_sync_per_user",
            "user_id",
            "job_type",
            unique=True,
            sqlite_where=_ACTIVE_SYNC,
            postgresql_where=_ACTIVE_SYNC,
        ),
    )


class LogEntry(Base):
    """A log line kept for the admin log viewer (no foreign keys: logs outlive what they name)."""

    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    service: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    logger: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)
    job_run_id: Mapped[int | None] = mapped_column(BigInteger)
    import_job_id: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    __table_args__ = (
        Index("ix_logs_created_at", "created_at"),
        Index("ix_logs_service_level_created_at", "service", "level", "created_at"),
        Index("ix_logs_request_id", "request_id"),
        Index("ix_logs_user_id_created_at", "user_id", "created_at"),
    )


class ApiToken(Base):
    """A hashed tool token: admin-wide, or scoped to one user; revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[TokenScope] = mapped_column(_enum(TokenScope, "token_scope"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "(scope = 'admin' AND user_id IS NULL) OR (scope = 'user' AND user_id IS NOT NULL)",
            name="scope_matches_user",
        ),
    )


class OAuthState(Base):
    """A login attempt's state nonce, so each callback state is accepted at most once."""

    __tablename__ = "oauth_states"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


# -- Listening summaries -----------------------------------------------------------------
# Aggregates of the plays that count by default (at least 30 s), kept by the API's history
# service so that questions about a whole history need not read every play. Only plays with
# an id up to `ListeningSummaryState.rolled_up_to` are folded in; deleting or changing such a
# play marks its user for a rebuild (database triggers, created by migration 0004).


class ListeningSummaryState(Base):
    """How far the listening summaries have folded in the plays (a single row, id 1)."""

    __tablename__ = "listening_summary_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rolled_up_to: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class ListeningSummaryRebuild(Base):
    """A user whose summaries must be rebuilt because folded plays were deleted or changed."""

    __tablename__ = "listening_summary_rebuilds"

    # No foreign key: the mark is written while the user may be being deleted.
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class ListeningDay(Base):
    """One user's counted plays of one kind on one UTC day, with hourly detail and gaps."""

    __tablename__ = "listening_days"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Days since 1970-01-01 UTC."""
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_day_item_kind"), primary_key=True
    )
    plays: Mapped[int] = mapped_column(Integer, default=0)
    ms_played: Mapped[int] = mapped_column(BigInteger, default=0)
    api_plays: Mapped[int] = mapped_column(Integer, default=0)
    extended_export_plays: Mapped[int] = mapped_column(Integer, default=0)
    account_export_plays: Mapped[int] = mapped_column(Integer, default=0)
    first_played_at: Mapped[datetime]
    last_played_at: Mapped[datetime]
    longest_gap_after: Mapped[datetime | None]
    longest_gap_before: Mapped[datetime | None]
    second_gap_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    """The second longest stretch between two of the day's plays (0 with fewer than 3)."""
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    """Items of this kind whose first counted play ever falls on this day."""
    new_artists: Mapped[int] = mapped_column(Integer, default=0)
    """Artists whose first counted play of this kind ever falls on this day."""
    plays_h00: Mapped[int] = mapped_column(Integer, default=0)
    plays_h01: Mapped[int] = mapped_column(Integer, default=0)
    plays_h02: Mapped[int] = mapped_column(Integer, default=0)
    plays_h03: Mapped[int] = mapped_column(Integer, default=0)
    plays_h04: Mapped[int] = mapped_column(Integer, default=0)
    plays_h05: Mapped[int] = mapped_column(Integer, default=0)
    plays_h06: Mapped[int] = mapped_column(Integer, default=0)
    plays_h07: Mapped[int] = mapped_column(Integer, default=0)
    plays_h08: Mapped[int] = mapped_column(Integer, default=0)
    plays_h09: Mapped[int] = mapped_column(Integer, default=0)
    plays_h10: Mapped[int] = mapped_column(Integer, default=0)
    plays_h11: Mapped[int] = mapped_column(Integer, default=0)
    plays_h12: Mapped[int] = mapped_column(Integer, default=0)
    plays_h13: Mapped[int] = mapped_column(Integer, default=0)
    plays_h14: Mapped[int] = mapped_column(Integer, default=0)
    plays_h15: Mapped[int] = mapped_column(Integer, default=0)
    plays_h16: Mapped[int] = mapped_column(Integer, default=0)
    plays_h17: Mapped[int] = mapped_column(Integer, default=0)
    plays_h18: Mapped[int] = mapped_column(Integer, default=0)
    plays_h19: Mapped[int] = mapped_column(Integer, default=0)
    plays_h20: Mapped[int] = mapped_column(Integer, default=0)
    plays_h21: Mapped[int] = mapped_column(Integer, default=0)
    plays_h22: Mapped[int] = mapped_column(Integer, default=0)
    plays_h23: Mapped[int] = mapped_column(Integer, default=0)
    ms_h00: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h01: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h02: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h03: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h04: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h05: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h06: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h07: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h08: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h09: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h10: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h11: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h12: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h13: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h14: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h15: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h16: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h17: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h18: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h19: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h20: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h21: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h22: Mapped[int] = mapped_column(BigInteger, default=0)
    ms_h23: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        # Sums over many days (totals, sources, first listens) without reading whole rows.
        Index(
            "ix_listening_days_totals",
            "user_id",
            "item_kind",
            "day",
            "plays",
            "ms_played",
            "api_plays",
            "extended_export_plays",
            "account_export_plays",
            "new_items",
            "new_artists",
        ),
    )


class ListeningTrack(Base):
    """One user's counted plays of one track (or episode) over the whole history."""

    __tablename__ = "listening_tracks"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    track_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_track_item_kind"), primary_key=True
    )
    plays: Mapped[int] = mapped_column(Integer)
    ms_played: Mapped[int] = mapped_column(BigInteger)
    first_played_at: Mapped[datetime]
    last_played_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_listening_tracks_top", "user_id", "item_kind", "plays", "ms_played", "track_id"),
        Index("ix_listening_tracks_first", "user_id", "item_kind", "first_played_at"),
        Index("ix_listening_tracks_last", "user_id", "item_kind", "last_played_at"),
    )


class ListeningArtist(Base):
    """One user's counted plays crediting one artist, per kind, over the whole history."""

    __tablename__ = "listening_artists"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    artist_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_artist_item_kind"), primary_key=True
    )
    plays: Mapped[int] = mapped_column(Integer)
    ms_played: Mapped[int] = mapped_column(BigInteger)
    primary_plays: Mapped[int] = mapped_column(Integer)
    """Plays of tracks the artist is credited first on."""
    primary_ms_played: Mapped[int] = mapped_column(BigInteger)
    first_played_at: Mapped[datetime]
    last_played_at: Mapped[datetime]

    __table_args__ = (
        Index(
            "ix_listening_artists_top", "user_id", "item_kind", "plays", "ms_played", "artist_id"
        ),
        Index(
            "ix_listening_artists_top_primary",
            "user_id",
            "item_kind",
            "primary_plays",
            "primary_ms_played",
            "artist_id",
        ),
        Index("ix_listening_artists_first", "user_id", "item_kind", "first_played_at"),
        Index("ix_listening_artists_last", "user_id", "item_kind", "last_played_at"),
    )


class ListeningTrackMonth(Base):
    """One user's counted plays of one track (or episode) in one UTC month."""

    __tablename__ = "listening_track_months"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """year * 12 + month - 1, in UTC."""
    track_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_track_month_item_kind"), primary_key=True
    )
    plays: Mapped[int] = mapped_column(Integer)
    ms_played: Mapped[int] = mapped_column(BigInteger)
    prev_month: Mapped[int | None] = mapped_column(Integer)
    """The track's previous month with plays of this kind (None: none before)."""

    __table_args__ = (
        Index(
            "ix_listening_track_months_track",
            "user_id",
            "track_id",
            "month",
            "item_kind",
            "plays",
            "ms_played",
        ),
        Index(
            "ix_listening_track_months_active",
            "user_id",
            "item_kind",
            "month",
            "prev_month",
        ),
        Index(
            "ix_listening_track_months_top",
            "user_id",
            "month",
            "item_kind",
            "plays",
            "ms_played",
            "track_id",
        ),
    )


class ListeningArtistMonth(Base):
    """One user's counted plays crediting one artist, per kind, in one UTC month."""

    __tablename__ = "listening_artist_months"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """year * 12 + month - 1, in UTC."""
    artist_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_artist_month_item_kind"), primary_key=True
    )
    plays: Mapped[int] = mapped_column(Integer)
    ms_played: Mapped[int] = mapped_column(BigInteger)
    primary_plays: Mapped[int] = mapped_column(Integer)
    primary_ms_played: Mapped[int] = mapped_column(BigInteger)
    prev_month: Mapped[int | None] = mapped_column(Integer)
    """The artist's previous month with plays of this kind (None: none before)."""

    __table_args__ = (
        Index(
            "ix_listening_artist_months_active",
            "user_id",
            "item_kind",
            "month",
            "prev_month",
        ),
        Index(
            "ix_listening_artist_months_artist",
            "user_id",
            "artist_id",
            "month",
            "item_kind",
            "plays",
            "ms_played",
            "primary_plays",
            "primary_ms_played",
        ),
        Index(
            "ix_listening_artist_months_top",
            "user_id",
            "month",
            "item_kind",
            "plays",
            "ms_played",
            "artist_id",
        ),
        Index(
            "ix_listening_artist_months_top_primary",
            "user_id",
            "month",
            "item_kind",
            "primary_plays",
            "primary_ms_played",
            "artist_id",
        ),
    )


SPAN_MONTHS = (3, 12)
"""The lengths of the coarser summary spans: calendar quarters and years (UTC)."""


class ListeningTrackSpan(Base):
    """One user's counted plays of one track (or episode) in one UTC quarter or year: the
    sum of its month rows, so that a long window reads a few spans instead of every month."""

    __tablename__ = "listening_track_spans"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    span: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Its length in months: 3 or 12 (`SPAN_MONTHS`)."""
    start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Its first month (year * 12 + month - 1, a multiple of `span`)."""
    track_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_track_span_item_kind"), primary_key=True
    )
    plays: Mapped[int] = mapped_column(Integer)
    ms_played: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index(
            "ix_listening_track_spans_track",
            "user_id",
            "track_id",
            "span",
            "start",
            "item_kind",
            "plays",
            "ms_played",
        ),
        Index(
            "ix_listening_track_spans_sums",
            "user_id",
            "span",
            "start",
            "item_kind",
            "plays",
            "ms_played",
            "track_id",
        ),
    )


class ListeningArtistSpan(Base):
    """One user's counted plays crediting one artist, per kind, in one UTC quarter or year."""

    __tablename__ = "listening_artist_spans"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    span: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Its length in months: 3 or 12 (`SPAN_MONTHS`)."""
    start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Its first month (year * 12 + month - 1, a multiple of `span`)."""
    artist_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_artist_span_item_kind"), primary_key=True
    )
    plays: Mapped[int] = mapped_column(Integer)
    ms_played: Mapped[int] = mapped_column(BigInteger)
    primary_plays: Mapped[int] = mapped_column(Integer)
    primary_ms_played: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index(
            "ix_listening_artist_spans_artist",
            "user_id",
            "artist_id",
            "span",
            "start",
            "item_kind",
            "plays",
            "ms_played",
            "primary_plays",
            "primary_ms_played",
        ),
        Index(
            "ix_listening_artist_spans_sums",
            "user_id",
            "span",
            "start",
            "item_kind",
            "plays",
            "ms_played",
            "artist_id",
        ),
        Index(
            "ix_listening_artist_spans_sums_primary",
            "user_id",
            "span",
            "start",
            "item_kind",
            "primary_plays",
            "primary_ms_played",
            "artist_id",
        ),
    )


LINK_SPANS = (1, *SPAN_MONTHS)
"""The spans the link counts are kept for: months, quarters and years."""
NO_PREVIOUS_MONTH = -1
"""`ListeningLinkCount.prev_month` of the month rows that have no month before them."""


class ListeningLinkCount(Base):
    """How many of one user's month rows of tracks (or of artists) of one kind, in one UTC
    month, quarter or year, link back to each earlier month (their `prev_month`).

    The distinct tracks of a run of whole months are its month rows whose previous month
    lies before the run: these counts give that number from a few hundred rows, where the
    month rows themselves are tens of thousands over a few years."""

    __tablename__ = "listening_link_counts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(8), primary_key=True)
    """Whose month rows: "track" or "artist"."""
    item_kind: Mapped[ItemKind] = mapped_column(
        _enum(ItemKind, "listening_link_count_item_kind"), primary_key=True
    )
    span: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Its length in months: 1, 3 or 12 (`LINK_SPANS`)."""
    start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Its first month (year * 12 + month - 1, a multiple of `span`)."""
    prev_month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """The month the rows link back to (`NO_PREVIOUS_MONTH`: none, a first listen)."""
    month_rows: Mapped[int] = mapped_column(Integer)
