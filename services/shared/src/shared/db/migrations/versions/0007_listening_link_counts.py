"""Counts of the month rows' links to earlier months; the spans by track and by artist.

How many distinct tracks (or artists) a run of whole months holds is how many of its month
rows link back (`prev_month`) to a month before the run, or to none. Counted row by row that
reads every month row of the run: tens of thousands over a few years. This table keeps, per
user, subject (track or artist), kind, month, quarter and year, how many month rows link back
to each earlier month, so that the count reads a few hundred rows; it is filled here from the
month rows already folded. The quarter and year rows get an index by track and by artist, so
that a top list's candidates are summed span by span, each looked up by its key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SPANS = (1, 3, 12)
_SOURCES = {"track": "listening_track_months", "artist": "listening_artist_months"}


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "listening_link_counts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=8), nullable=False),
        sa.Column(
            "item_kind",
            sa.Enum(
                "track",
                "episode",
                "audiobook",
                name="listening_link_count_item_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("span", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("prev_month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month_rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_listening_link_counts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id",
            "subject",
            "item_kind",
            "span",
            "start",
            "prev_month",
            name=op.f("pk_listening_link_counts"),
        ),
    )
    # A top list's candidates are summed span by span: each id looked up by its key.
    op.create_index(
        "ix_listening_track_spans_track",
        "listening_track_spans",
        ["user_id", "track_id", "span", "start", "item_kind", "plays", "ms_played"],
    )
    op.create_index(
        "ix_listening_artist_spans_artist",
        "listening_artist_spans",
        [
            "user_id",
            "artist_id",
            "span",
            "start",
            "item_kind",
            "plays",
            "ms_played",
            "primary_plays",
            "primary_ms_played",
        ],
    )
    for subject, source in _SOURCES.items():
        for span in _SPANS:
            # The statements carry only this module's constants.
            start = f"month - month % {span:d}"
            op.execute(
                "INSERT INTO listening_link_counts "  # noqa: S608
                "(user_id, subject, item_kind, span, start, prev_month, month_rows) "
                f"SELECT user_id, '{subject}', item_kind, {span}, {start}, "
                "coalesce(prev_month, -1), count(*) "
                f"FROM {source} GROUP BY user_id, item_kind, {start}, coalesce(prev_month, -1)"
            )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("listening_link_counts")
    op.drop_index("ix_listening_artist_spans_artist", table_name="listening_artist_spans")
    op.drop_index("ix_listening_track_spans_track", table_name="listening_track_spans")
