"""Initial schema: every table of the data model.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 03:28:07.692473
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "artists",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column(
            "genres",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artists")),
    )
    op.create_index("ix_artists_name", "artists", ["name"], unique=False)
    op.create_table(
        "logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("logger", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("job_run_id", sa.BigInteger(), nullable=True),
        sa.Column("import_job_id", sa.Integer(), nullable=True),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs")),
    )
    op.create_index("ix_logs_created_at", "logs", ["created_at"], unique=False)
    op.create_index("ix_logs_request_id", "logs", ["request_id"], unique=False)
    op.create_index(
        "ix_logs_service_level_created_at", "logs", ["service", "level", "created_at"], unique=False
    )
    op.create_index("ix_logs_user_id_created_at", "logs", ["user_id", "created_at"], unique=False)
    op.create_table(
        "oauth_states",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("used_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_oauth_states")),
    )
    op.create_index(
        op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"], unique=False
    )
    op.create_table(
        "tracks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("album_id", sa.String(length=64), nullable=True),
        sa.Column("album_name", sa.String(length=512), nullable=True),
        sa.Column("show_name", sa.String(length=512), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("isrc", sa.String(length=32), nullable=True),
        sa.Column("explicit", sa.Boolean(), nullable=True),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
    )
    op.create_index("ix_tracks_name", "tracks", ["name"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spotify_user_id", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "paused",
                "reauth_required",
                "error",
                name="user_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("spotify_user_id", name=op.f("uq_users_spotify_user_id")),
    )
    op.create_index(op.f("ix_users_status"), "users", ["status"], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "admin",
                "user",
                name="token_scope",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(scope = 'admin' AND user_id IS NULL) OR (scope = 'user' AND user_id IS NOT NULL)",
            name=op.f("ck_api_tokens_scope_matches_user"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "audio_features",
        sa.Column("track_id", sa.String(length=64), nullable=False),
        sa.Column("danceability", sa.Float(), nullable=True),
        sa.Column("energy", sa.Float(), nullable=True),
        sa.Column("key", sa.Integer(), nullable=True),
        sa.Column("loudness", sa.Float(), nullable=True),
        sa.Column("mode", sa.Integer(), nullable=True),
        sa.Column("speechiness", sa.Float(), nullable=True),
        sa.Column("acousticness", sa.Float(), nullable=True),
        sa.Column("instrumentalness", sa.Float(), nullable=True),
        sa.Column("liveness", sa.Float(), nullable=True),
        sa.Column("valence", sa.Float(), nullable=True),
        sa.Column("tempo", sa.Float(), nullable=True),
        sa.Column("time_signature", sa.Integer(), nullable=True),
        sa.Column("fetched_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_audio_features_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_audio_features")),
    )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("original_filename", sa.String(length=512), nullable=False),
        sa.Column("stored_path", sa.String(length=1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "format",
            sa.Enum(
                "unknown",
                "extended",
                "account_data",
                "mixed",
                name="import_format",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "succeeded",
                "partial",
                "failed",
                name="import_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("records_total", sa.Integer(), nullable=True),
        sa.Column("records_processed", sa.Integer(), nullable=False),
        sa.Column("records_inserted", sa.Integer(), nullable=False),
        sa.Column("records_duplicate", sa.Integer(), nullable=False),
        sa.Column("records_skipped", sa.Integer(), nullable=False),
        sa.Column(
            "skip_reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("heartbeat_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("started_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_import_jobs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        "ix_import_jobs_status_created_at", "import_jobs", ["status", "created_at"], unique=False
    )
    op.create_index(
        "ix_import_jobs_user_id_sha256", "import_jobs", ["user_id", "sha256"], unique=False
    )
    op.create_table(
        "spotify_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=False),
        sa.Column("token_type", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("expires_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_spotify_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spotify_tokens")),
        sa.UniqueConstraint("user_id", name=op.f("uq_spotify_tokens_user_id")),
    )
    op.create_table(
        "sync_checkpoints",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "initial_sync_status",
            sa.Enum(
                "pending",
                "running",
                "done",
                "failed",
                name="initial_sync_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("initial_sync_started_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("initial_sync_completed_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("after_cursor_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_poll_started_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("last_poll_completed_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("last_success_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("next_poll_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("deferred_until", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_checkpoints_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_sync_checkpoints")),
    )
    op.create_index(
        op.f("ix_sync_checkpoints_next_poll_at"), "sync_checkpoints", ["next_poll_at"], unique=False
    )
    op.create_table(
        "track_artists",
        sa.Column("track_id", sa.String(length=64), nullable=False),
        sa.Column("artist_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("position >= 0", name=op.f("ck_track_artists_position_non_negative")),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artists.id"],
            name=op.f("fk_track_artists_artist_id_artists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_track_artists_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("track_id", "artist_id", name=op.f("pk_track_artists")),
    )
    op.create_index(
        "ix_track_artists_artist_id_track_id",
        "track_artists",
        ["artist_id", "track_id"],
        unique=False,
    )
    op.create_table(
        "job_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "job_type",
            sa.Enum(
                "poll",
                "initial_sync",
                "import",
                "enrichment",
                name="job_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                name="job_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("import_job_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("heartbeat_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("started_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("records_fetched", sa.Integer(), nullable=False),
        sa.Column("records_inserted", sa.Integer(), nullable=False),
        sa.Column("records_skipped", sa.Integer(), nullable=False),
        sa.Column(
            "stats",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_job_id"],
            ["import_jobs.id"],
            name=op.f("fk_job_runs_import_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_job_runs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index("ix_job_runs_created_at", "job_runs", ["created_at"], unique=False)
    op.create_index("ix_job_runs_import_job_id", "job_runs", ["import_job_id"], unique=False)
    op.create_index(
        "ix_job_runs_status_scheduled_at", "job_runs", ["status", "scheduled_at"], unique=False
    )
    op.create_index(
        "ix_job_runs_user_id_created_at", "job_runs", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "plays",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.String(length=64), nullable=False),
        sa.Column("played_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("ms_played", sa.Integer(), nullable=False),
        sa.Column(
            "item_kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="play_item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "api",
                "extended_export",
                "account_export",
                name="play_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("context_type", sa.String(length=32), nullable=True),
        sa.Column("context_uri", sa.String(length=255), nullable=True),
        sa.Column("reason_start", sa.String(length=64), nullable=True),
        sa.Column("reason_end", sa.String(length=64), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=True),
        sa.Column("shuffle", sa.Boolean(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=True),
        sa.Column("platform", sa.String(length=255), nullable=True),
        sa.Column("import_job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint("ms_played >= 0", name=op.f("ck_plays_ms_played_non_negative")),
        sa.ForeignKeyConstraint(
            ["import_job_id"],
            ["import_jobs.id"],
            name=op.f("fk_plays_import_job_id_import_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_plays_track_id_tracks"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_plays_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plays")),
        sa.UniqueConstraint(
            "user_id", "played_at", "track_id", name=op.f("uq_plays_user_id_played_at_track_id")
        ),
    )
    op.create_index("ix_plays_import_job_id", "plays", ["import_job_id"], unique=False)
    op.create_index("ix_plays_track_id", "plays", ["track_id"], unique=False)
    op.create_index("ix_plays_user_id_track_id", "plays", ["user_id", "track_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_plays_user_id_track_id", table_name="plays")
    op.drop_index("ix_plays_track_id", table_name="plays")
    op.drop_index("ix_plays_import_job_id", table_name="plays")
    op.drop_table("plays")
    op.drop_index("ix_job_runs_user_id_created_at", table_name="job_runs")
    op.drop_index("ix_job_runs_status_scheduled_at", table_name="job_runs")
    op.drop_index("ix_job_runs_import_job_id", table_name="job_runs")
    op.drop_index("ix_job_runs_created_at", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_index("ix_track_artists_artist_id_track_id", table_name="track_artists")
    op.drop_table("track_artists")
    op.drop_index(op.f("ix_sync_checkpoints_next_poll_at"), table_name="sync_checkpoints")
    op.drop_table("sync_checkpoints")
    op.drop_table("spotify_tokens")
    op.drop_index("ix_import_jobs_user_id_sha256", table_name="import_jobs")
    op.drop_index("ix_import_jobs_status_created_at", table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_table("audio_features")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_users_status"), table_name="users")
    op.drop_table("users")
    op.drop_index("ix_tracks_name", table_name="tracks")
    op.drop_table("tracks")
    op.drop_index(op.f("ix_oauth_states_expires_at"), table_name="oauth_states")
    op.drop_table("oauth_states")
    op.drop_index("ix_logs_user_id_created_at", table_name="logs")
    op.drop_index("ix_logs_service_level_created_at", table_name="logs")
    op.drop_index("ix_logs_request_id", table_name="logs")
    op.drop_index("ix_logs_created_at", table_name="logs")
    op.drop_table("logs")
    op.drop_index("ix_artists_name", table_name="artists")
    op.drop_table("artists")
