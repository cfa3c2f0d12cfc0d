"""Plays: drop the index on track_id alone, which only the tracks foreign key used.

Every query on plays names the user: (user_id, track_id) lookups use
ix_plays_user_id_track_id and (user_id, played_at) ranges the unique constraint. An index on
track_id alone would serve only the RESTRICT check of deleting a track, and the application
never deletes tracks; keeping it cost every stored play one more random b-tree insert
(about a sixth of SQLite's time per play in bench/import_bench.py).

This revision follows 0004, which was written first and revises 0002.

Revision ID: 0003
Revises: 0004
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("ix_plays_track_id", table_name="plays")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_plays_track_id", "plays", ["track_id"], unique=False)
