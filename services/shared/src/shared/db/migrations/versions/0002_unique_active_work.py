"""At most one queued or running sync per user; each archive imported once per user.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE_SYNC = sa.text(
    "status IN ('pending', 'running') AND job_type IN ('poll', 'initial_sync') "
    "AND user_id IS NOT NULL"
)
_LIVE_IMPORT = sa.text("status IN ('pending', 'running', 'succeeded', 'partial')")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "uq_job_runs_active_sync_per_user",
        "job_runs",
        ["user_id", "job_type"],
        unique=True,
        sqlite_where=_ACTIVE_SYNC,
        postgresql_where=_ACTIVE_SYNC,
    )
    op.create_index(
        "uq_import_jobs_live_archive_per_user",
        "import_jobs",
        ["user_id", "sha256"],
        unique=True,
        sqlite_where=_LIVE_IMPORT,
        postgresql_where=_LIVE_IMPORT,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_import_jobs_live_archive_per_user", table_name="import_jobs")
    op.drop_index("uq_job_runs_active_sync_per_user", table_name="job_runs")
