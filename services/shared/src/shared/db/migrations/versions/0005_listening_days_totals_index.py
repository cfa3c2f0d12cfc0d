"""Listening days: a covering index for sums over many days.

Totals, plays by source and first listens over a long window sum a few columns of every day
row; with the columns in an index the database reads the index alone instead of the whole
row with its 48 hourly counters.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-27 11:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = [
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
]


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_listening_days_totals", "listening_days", _COLUMNS)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_listening_days_totals", table_name="listening_days")
