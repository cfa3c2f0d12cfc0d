"""Alembic environment: runs migrations over an async engine, or a connection handed in."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from shared.config import DatabaseSettings
from shared.db import models  # noqa: F401  (registers every table on Base.metadata)
from shared.db.base import Base
from shared.db.manager import DatabaseManager

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    manager = DatabaseManager(url)
    try:
        async with manager.engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await manager.dispose()


def run() -> None:
    """Entry point Alembic calls."""
    handed_in = config.attributes.get("connection")
    if handed_in is not None:
        _configure(handed_in)
        return
    url = config.get_main_option("sqlalchemy.url") or DatabaseSettings().database_url
    asyncio.run(_run_online(url))


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run()
