"""Migrations build the schema the models describe, on both dialects, up and down."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from shared.db import models  # noqa: F401  (registers the tables)
from shared.db.base import Base
from shared.db.migrate import MigrationRunner
from testkit.plugin import FreshDatabase


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


class TestMigrations:
    async def test_upgrade_downgrade_upgrade_round_trip(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database(migrated=False)
        runner = MigrationRunner(database)
        assert await runner.current_revision() is None

        await runner.upgrade()
        assert await runner.is_at_head()
        await runner.downgrade("base")
        async with database.engine.connect() as conn:
            assert await conn.run_sync(_table_names) == set()
        assert await runner.current_revision() is None
        await runner.upgrade()

        async with database.engine.connect() as conn:
            assert await conn.run_sync(_table_names) == set(Base.metadata.tables)
        assert await runner.is_at_head()

    async def test_migrated_schema_matches_the_models(self, fresh_database: FreshDatabase) -> None:
        database = await fresh_database(migrated=False)
        await MigrationRunner(database).upgrade()
        async with database.engine.connect() as conn:
            diff = await conn.run_sync(_schema_diff)
        assert diff == []
