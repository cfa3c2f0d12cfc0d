"""Listening summaries per quarter and per year.

A long window read from the per-month summaries sums one row per track (or artist) per month;
over a year that is three times the rows of the same sums kept per year. The span tables hold
each track's and artist's counted plays per UTC calendar quarter and year, the sums of their
month rows, filled here from the month rows already folded.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SPANS = (3, 12)


def _item_kind(name: str) -> sa.Enum:
    return sa.Enum(
        "track",
        "episode",
        "audiobook",
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "listening_track_spans",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("span", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("track_id", sa.String(length=64), nullable=False),
        sa.Column("item_kind", _item_kind("listening_track_span_item_kind"), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        _user_fk("listening_track_spans"),
        sa.PrimaryKeyConstraint(
            "user_id",
            "span",
            "start",
            "track_id",
            "item_kind",
            name=op.f("pk_listening_track_spans"),
        ),
    )
    op.create_index(
        "ix_listening_track_spans_sums",
        "listening_track_spans",
        ["user_id", "span", "start", "item_kind", "plays", "ms_played", "track_id"],
    )
    op.create_table(
        "listening_artist_spans",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("span", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("artist_id", sa.String(length=64), nullable=False),
        sa.Column("item_kind", _item_kind("listening_artist_span_item_kind"), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        sa.Column("primary_plays", sa.Integer(), nullable=False),
        sa.Column("primary_ms_played", sa.BigInteger(), nullable=False),
        _user_fk("listening_artist_spans"),
        sa.PrimaryKeyConstraint(
            "user_id",
            "span",
            "start",
            "artist_id",
            "item_kind",
            name=op.f("pk_listening_artist_spans"),
        ),
    )
    op.create_index(
        "ix_listening_artist_spans_sums",
        "listening_artist_spans",
        ["user_id", "span", "start", "item_kind", "plays", "ms_played", "artist_id"],
    )
    op.create_index(
        "ix_listening_artist_spans_sums_primary",
        "listening_artist_spans",
        [
            "user_id",
            "span",
            "start",
            "item_kind",
            "primary_plays",
            "primary_ms_played",
            "artist_id",
        ],
    )
    for span in _SPANS:
        # The statements carry only this module's integer constants.
        start = f"month - month % {span:d}"
        op.execute(
            "INSERT INTO listening_track_spans "  # noqa: S608
            "(user_id, span, start, track_id, item_kind, plays, ms_played) "
            f"SELECT user_id, {span}, {start}, track_id, item_kind, sum(plays), sum(ms_played) "
            f"FROM listening_track_months GROUP BY user_id, {start}, track_id, item_kind"
        )
        op.execute(
            "INSERT INTO listening_artist_spans (user_id, span, start, artist_id, item_kind, "  # noqa: S608
            "plays, ms_played, primary_plays, primary_ms_played) "
            f"SELECT user_id, {span}, {start}, artist_id, item_kind, sum(plays), "
            "sum(ms_played), sum(primary_plays), sum(primary_ms_played) "
            f"FROM listening_artist_months GROUP BY user_id, {start}, artist_id, item_kind"
        )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("listening_artist_spans")
    op.drop_table("listening_track_spans")
