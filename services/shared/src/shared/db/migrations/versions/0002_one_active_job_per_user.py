"""At most one pending or running job of each type per user.

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

_ACTIVE = sa.text("status IN ('pending', 'running') AND user_id IS NOT NULL")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "uq_job_runs_active_per_user",
        "job_runs",
        ["user_id", "job_type"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_job_runs_active_per_user", table_name="job_runs")
