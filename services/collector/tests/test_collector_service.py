"""The collector process waits for the schema and stops promptly when asked."""

from __future__ import annotations

import asyncio

from collector.main import CollectorService
from collector.settings import CollectorSettings
from shared.db.migrate import MigrationRunner
from testkit.plugin import FreshDatabase


def _settings() -> CollectorSettings:
    return CollectorSettings(_env_file=None, log_to_database=False)


class TestCollectorService:
    async def test_stops_within_the_grace_period(self, fresh_database: FreshDatabase) -> None:
        service = CollectorService(_settings(), await fresh_database())
        running = asyncio.create_task(service.run())
        await asyncio.sleep(0.2)
        assert not running.done()
        service.request_stop()
        await asyncio.wait_for(running, timeout=10)

    async def test_waits_for_migrations_before_starting(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database(migrated=False)
        service = CollectorService(_settings(), database)
        running = asyncio.create_task(service.run())
        await asyncio.sleep(0.3)
        assert not running.done()
        await MigrationRunner(database).upgrade()
        service.request_stop()
        await asyncio.wait_for(running, timeout=10)

    async def test_a_stop_before_the_schema_exists_ends_cleanly(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database(migrated=False)
        service = CollectorService(_settings(), database)
        running = asyncio.create_task(service.run())
        await asyncio.sleep(0.2)
        service.request_stop()
        await asyncio.wait_for(running, timeout=10)  # no error although nothing was migrated
