"""Bulk writes: one INSERT ... ON CONFLICT DO NOTHING per batch, on either dialect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import Base

# Both drivers cap bound parameters per statement (asyncpg 32,767; SQLite 32,766).
_MAX_PARAMETERS = 30_000


async def insert_ignoring_conflicts(
    session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert rows, skipping any that hit a unique constraint; returns how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = max(1, len(rows[0]))
    batch = max(1, _MAX_PARAMETERS // columns)
    inserted = 0
    for start in range(0, len(rows), batch):
        statement = insert(model).values(list(rows[start : start + batch]))
        result = cast(CursorResult[Any], await session.execute(statement.on_conflict_do_nothing()))
        inserted += max(result.rowcount, 0)
    return inserted
