"""Collector tests commit on purpose (they test what survives a rollback, a crash, a second
process), so they get a database of their own instead of the run's shared one: what they
leave behind never shows up in another service's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.db.manager import DatabaseManager
from testkit.databases import PostgresDatabaseFactory, SqliteDatabaseFactory
from testkit.plugin import migrated_database


@pytest.fixture(scope="package")
async def database(
    database_factory: SqliteDatabaseFactory | PostgresDatabaseFactory,
) -> AsyncIterator[DatabaseManager]:
    """A migrated database for the collector's tests of one dialect, dropped after them."""
    async with migrated_database(database_factory) as manager:
        yield manager
