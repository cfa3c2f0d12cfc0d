"""Listening summaries: per-day, per-track and per-artist aggregates of the counted plays.

The history service folds plays into these tables up to a play-id watermark. Deleting or
changing a folded play marks its user for a rebuild; on SQLite the same trigger lowers the
watermark when the highest play ids are deleted, since SQLite may then hand them out again.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.base

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER listening_summaries_on_play_delete AFTER DELETE ON plays
    WHEN OLD.id <= (SELECT rolled_up_to FROM listening_summary_state WHERE id = 1)
    BEGIN
        INSERT OR IGNORE INTO listening_summary_rebuilds (user_id) VALUES (OLD.user_id);
        UPDATE listening_summary_state
        SET rolled_up_to = (SELECT coalesce(max(id), 0) FROM plays)
        WHERE id = 1 AND rolled_up_to > (SELECT coalesce(max(id), 0) FROM plays);
    END
    """,
    """
    CREATE TRIGGER listening_summaries_on_play_update AFTER UPDATE ON plays
    WHEN OLD.id <= (SELECT rolled_up_to FROM listening_summary_state WHERE id = 1)
    BEGIN
        INSERT OR IGNORE INTO listening_summary_rebuilds (user_id) VALUES (OLD.user_id);
        INSERT OR IGNORE INTO listening_summary_rebuilds (user_id) VALUES (NEW.user_id);
    END
    """,
)

_POSTGRESQL_TRIGGERS = (
    """
    CREATE FUNCTION listening_summaries_on_play_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO listening_summary_rebuilds (user_id)
        SELECT DISTINCT gone.user_id FROM gone_plays AS gone
        WHERE gone.id <= (SELECT rolled_up_to FROM listening_summary_state WHERE id = 1)
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER listening_summaries_on_play_delete AFTER DELETE ON plays
    REFERENCING OLD TABLE AS gone_plays
    FOR EACH STATEMENT EXECUTE FUNCTION listening_summaries_on_play_delete()
    """,
    """
    CREATE FUNCTION listening_summaries_on_play_update() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO listening_summary_rebuilds (user_id)
        SELECT changed.user_id FROM old_plays AS changed
        WHERE changed.id <= (SELECT rolled_up_to FROM listening_summary_state WHERE id = 1)
        UNION
        SELECT changed.user_id FROM new_plays AS changed
        WHERE changed.id <= (SELECT rolled_up_to FROM listening_summary_state WHERE id = 1)
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER listening_summaries_on_play_update AFTER UPDATE ON plays
    REFERENCING OLD TABLE AS old_plays NEW TABLE AS new_plays
    FOR EACH STATEMENT EXECUTE FUNCTION listening_summaries_on_play_update()
    """,
)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "listening_summary_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rolled_up_to", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_listening_summary_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_summary_state")),
    )
    op.create_table(
        "listening_summary_rebuilds",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_listening_summary_rebuilds")),
    )
    op.create_table(
        "listening_days",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "item_kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="listening_day_item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        sa.Column("api_plays", sa.Integer(), nullable=False),
        sa.Column("extended_export_plays", sa.Integer(), nullable=False),
        sa.Column("account_export_plays", sa.Integer(), nullable=False),
        sa.Column("first_played_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_played_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("longest_gap_after", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("longest_gap_before", shared.db.base.UTCDateTime(), nullable=True),
        sa.Column("second_gap_seconds", sa.BigInteger(), nullable=False),
        sa.Column("new_items", sa.Integer(), nullable=False),
        sa.Column("new_artists", sa.Integer(), nullable=False),
        sa.Column("plays_h00", sa.Integer(), nullable=False),
        sa.Column("plays_h01", sa.Integer(), nullable=False),
        sa.Column("plays_h02", sa.Integer(), nullable=False),
        sa.Column("plays_h03", sa.Integer(), nullable=False),
        sa.Column("plays_h04", sa.Integer(), nullable=False),
        sa.Column("plays_h05", sa.Integer(), nullable=False),
        sa.Column("plays_h06", sa.Integer(), nullable=False),
        sa.Column("plays_h07", sa.Integer(), nullable=False),
        sa.Column("plays_h08", sa.Integer(), nullable=False),
        sa.Column("plays_h09", sa.Integer(), nullable=False),
        sa.Column("plays_h10", sa.Integer(), nullable=False),
        sa.Column("plays_h11", sa.Integer(), nullable=False),
        sa.Column("plays_h12", sa.Integer(), nullable=False),
        sa.Column("plays_h13", sa.Integer(), nullable=False),
        sa.Column("plays_h14", sa.Integer(), nullable=False),
        sa.Column("plays_h15", sa.Integer(), nullable=False),
        sa.Column("plays_h16", sa.Integer(), nullable=False),
        sa.Column("plays_h17", sa.Integer(), nullable=False),
        sa.Column("plays_h18", sa.Integer(), nullable=False),
        sa.Column("plays_h19", sa.Integer(), nullable=False),
        sa.Column("plays_h20", sa.Integer(), nullable=False),
        sa.Column("plays_h21", sa.Integer(), nullable=False),
        sa.Column("plays_h22", sa.Integer(), nullable=False),
        sa.Column("plays_h23", sa.Integer(), nullable=False),
        sa.Column("ms_h00", sa.BigInteger(), nullable=False),
        sa.Column("ms_h01", sa.BigInteger(), nullable=False),
        sa.Column("ms_h02", sa.BigInteger(), nullable=False),
        sa.Column("ms_h03", sa.BigInteger(), nullable=False),
        sa.Column("ms_h04", sa.BigInteger(), nullable=False),
        sa.Column("ms_h05", sa.BigInteger(), nullable=False),
        sa.Column("ms_h06", sa.BigInteger(), nullable=False),
        sa.Column("ms_h07", sa.BigInteger(), nullable=False),
        sa.Column("ms_h08", sa.BigInteger(), nullable=False),
        sa.Column("ms_h09", sa.BigInteger(), nullable=False),
        sa.Column("ms_h10", sa.BigInteger(), nullable=False),
        sa.Column("ms_h11", sa.BigInteger(), nullable=False),
        sa.Column("ms_h12", sa.BigInteger(), nullable=False),
        sa.Column("ms_h13", sa.BigInteger(), nullable=False),
        sa.Column("ms_h14", sa.BigInteger(), nullable=False),
        sa.Column("ms_h15", sa.BigInteger(), nullable=False),
        sa.Column("ms_h16", sa.BigInteger(), nullable=False),
        sa.Column("ms_h17", sa.BigInteger(), nullable=False),
        sa.Column("ms_h18", sa.BigInteger(), nullable=False),
        sa.Column("ms_h19", sa.BigInteger(), nullable=False),
        sa.Column("ms_h20", sa.BigInteger(), nullable=False),
        sa.Column("ms_h21", sa.BigInteger(), nullable=False),
        sa.Column("ms_h22", sa.BigInteger(), nullable=False),
        sa.Column("ms_h23", sa.BigInteger(), nullable=False),
        _user_fk("listening_days"),
        sa.PrimaryKeyConstraint("user_id", "day", "item_kind", name=op.f("pk_listening_days")),
    )
    op.create_table(
        "listening_tracks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.String(length=64), nullable=False),
        sa.Column(
            "item_kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="listening_track_item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        sa.Column("first_played_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_played_at", shared.db.base.UTCDateTime(), nullable=False),
        _user_fk("listening_tracks"),
        sa.PrimaryKeyConstraint(
            "user_id", "track_id", "item_kind", name=op.f("pk_listening_tracks")
        ),
    )
    op.create_index(
        "ix_listening_tracks_top",
        "listening_tracks",
        ["user_id", "item_kind", "plays", "ms_played", "track_id"],
    )
    op.create_index(
        "ix_listening_tracks_first", "listening_tracks", ["user_id", "item_kind", "first_played_at"]
    )
    op.create_index(
        "ix_listening_tracks_last", "listening_tracks", ["user_id", "item_kind", "last_played_at"]
    )
    op.create_table(
        "listening_artists",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("artist_id", sa.String(length=64), nullable=False),
        sa.Column(
            "item_kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="listening_artist_item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        sa.Column("primary_plays", sa.Integer(), nullable=False),
        sa.Column("primary_ms_played", sa.BigInteger(), nullable=False),
        sa.Column("first_played_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_played_at", shared.db.base.UTCDateTime(), nullable=False),
        _user_fk("listening_artists"),
        sa.PrimaryKeyConstraint(
            "user_id", "artist_id", "item_kind", name=op.f("pk_listening_artists")
        ),
    )
    op.create_index(
        "ix_listening_artists_top",
        "listening_artists",
        ["user_id", "item_kind", "plays", "ms_played", "artist_id"],
    )
    op.create_index(
        "ix_listening_artists_top_primary",
        "listening_artists",
        ["user_id", "item_kind", "primary_plays", "primary_ms_played", "artist_id"],
    )
    op.create_index(
        "ix_listening_artists_first",
        "listening_artists",
        ["user_id", "item_kind", "first_played_at"],
    )
    op.create_index(
        "ix_listening_artists_last", "listening_artists", ["user_id", "item_kind", "last_played_at"]
    )
    op.create_table(
        "listening_track_months",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("track_id", sa.String(length=64), nullable=False),
        sa.Column(
            "item_kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="listening_track_month_item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        sa.Column("prev_month", sa.Integer(), nullable=True),
        _user_fk("listening_track_months"),
        sa.PrimaryKeyConstraint(
            "user_id", "month", "track_id", "item_kind", name=op.f("pk_listening_track_months")
        ),
    )
    op.create_index(
        "ix_listening_track_months_track",
        "listening_track_months",
        ["user_id", "track_id", "month", "item_kind", "plays", "ms_played"],
    )
    op.create_index(
        "ix_listening_track_months_active",
        "listening_track_months",
        ["user_id", "item_kind", "month", "prev_month"],
    )
    op.create_index(
        "ix_listening_track_months_top",
        "listening_track_months",
        ["user_id", "month", "item_kind", "plays", "ms_played", "track_id"],
    )
    op.create_table(
        "listening_artist_months",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("artist_id", sa.String(length=64), nullable=False),
        sa.Column(
            "item_kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="listening_artist_month_item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        sa.Column("primary_plays", sa.Integer(), nullable=False),
        sa.Column("primary_ms_played", sa.BigInteger(), nullable=False),
        sa.Column("prev_month", sa.Integer(), nullable=True),
        _user_fk("listening_artist_months"),
        sa.PrimaryKeyConstraint(
            "user_id", "month", "artist_id", "item_kind", name=op.f("pk_listening_artist_months")
        ),
    )
    op.create_index(
        "ix_listening_artist_months_artist",
        "listening_artist_months",
        [
            "user_id",
            "artist_id",
            "month",
            "item_kind",
            "plays",
            "ms_played",
            "primary_plays",
            "primary_ms_played",
        ],
    )
    op.create_index(
        "ix_listening_artist_months_active",
        "listening_artist_months",
        ["user_id", "item_kind", "month", "prev_month"],
    )
    op.create_index(
        "ix_listening_artist_months_top",
        "listening_artist_months",
        ["user_id", "month", "item_kind", "plays", "ms_played", "artist_id"],
    )
    op.create_index(
        "ix_listening_artist_months_top_primary",
        "listening_artist_months",
        ["user_id", "month", "item_kind", "primary_plays", "primary_ms_played", "artist_id"],
    )
    op.execute(
        "INSERT INTO listening_summary_state (id, rolled_up_to, version, updated_at) "
        "VALUES (1, 0, 0, CURRENT_TIMESTAMP)"
    )
    triggers = _SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS listening_summaries_on_play_update")
        op.execute("DROP TRIGGER IF EXISTS listening_summaries_on_play_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS listening_summaries_on_play_update ON plays")
        op.execute("DROP TRIGGER IF EXISTS listening_summaries_on_play_delete ON plays")
        op.execute("DROP FUNCTION IF EXISTS listening_summaries_on_play_update()")
        op.execute("DROP FUNCTION IF EXISTS listening_summaries_on_play_delete()")
    for table in (
        "listening_artist_months",
        "listening_track_months",
        "listening_artists",
        "listening_tracks",
        "listening_days",
        "listening_summary_rebuilds",
        "listening_summary_state",
    ):
        op.drop_table(table)
