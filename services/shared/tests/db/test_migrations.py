"""Migrations build the schema the models describe, on both dialects, up and down."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect
from sqlalchemy.engine import Connection

from shared.db import models  # noqa: F401  (registers the tables)
from shared.db.base import Base
from shared.db.migrate import MigrationRunner
from testkit.plugin import FreshDatabase


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _check_constraints(connection: Connection) -> set[tuple[str, str]]:
    inspector = inspect(connection)
    return {
        (table, str(check["name"]))
        for table in inspector.get_table_names()
        for check in inspector.get_check_constraints(table)
    }


def _model_check_constraints() -> set[tuple[str, str]]:
    """(table, name) of every CHECK the models declare, enum checks included."""
    found = set()
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint) and constraint.name:
                found.add((table.name, str(constraint.name)))
    return found


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

    async def test_migrated_check_constraints_match_the_models(
        self, fresh_database: FreshDatabase
    ) -> None:
        # compare_metadata does not look at CHECK constraints (enums are VARCHAR + CHECK here).
        database = await fresh_database(migrated=False)
        await MigrationRunner(database).upgrade()
        async with database.engine.connect() as conn:
            migrated = await conn.run_sync(_check_constraints)
        expected = _model_check_constraints()
        assert len(expected) >= 10
        assert migrated == expected
