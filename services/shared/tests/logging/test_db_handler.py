"""DBLogHandler stores records in the logs table and never hurts the code that logs."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from shared.db.manager import DatabaseManager
from shared.db.models import LogEntry
from shared.logging import DBLogHandler, bind_log_context
from testkit.plugin import FreshDatabase

# Nothing listens on port 1: connecting fails at once with "connection refused".
CLOSED_PORT_URL = "postgresql+asyncpg://postgres@127.0.0.1:1/x"
REFRESH_TOKEN = "AQBzv3Rt8Lk2Mn7Qp1Xs5Wd9Fg4Hj6Kl0Zc3Vb8Nm2As5Df7Gh1"
FAILURE_REPORT = "cannot write log records to the database"


@contextmanager
def attached(handler: logging.Handler) -> Iterator[logging.Logger]:
    """A fresh logger at DEBUG whose records go only to the handler."""
    logger = logging.getLogger(f"tests.dblog.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)


async def stored_rows(database: DatabaseManager, service: str) -> list[LogEntry]:
    async with database.session() as session:
        result = await session.scalars(
            select(LogEntry).where(LogEntry.service == service).order_by(LogEntry.id)
        )
        return list(result)


@pytest.fixture
async def unreachable_database() -> AsyncIterator[DatabaseManager]:
    manager = DatabaseManager(CLOSED_PORT_URL)
    yield manager
    await manager.dispose()


class SilentServer:
    """A TCP server that accepts connections and never answers: a database that hangs."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _on_connect(
        self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.append(writer)
        self.connected.set()

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def hanging_database() -> AsyncIterator[tuple[DatabaseManager, SilentServer]]:
    server = SilentServer()
    port = await server.start()
    manager = DatabaseManager(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    yield manager, server
    await manager.dispose()
    await server.close()


class TestStoredRows:
    async def test_rows_carry_service_level_context_and_extra(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        handler = DBLogHandler(database, service="collector")

        with attached(handler) as logger:
            with bind_log_context(request_id="req-7", user_id=7, job_run_id=70, import_job_id=700):
                logger.info(
                    "imported %d plays", 12, extra={"plays": 12, "refresh_token": REFRESH_TOKEN}
                )
            logger.warning("no context here")
        assert await handler.drain() == 2

        first, second = await stored_rows(database, "collector")
        assert first.level == "INFO"
        assert first.logger.startswith("tests.dblog.")
        assert first.message == "imported 12 plays"
        assert first.request_id == "req-7"
        assert (first.user_id, first.job_run_id, first.import_job_id) == (7, 70, 700)
        assert first.extra == {"plays": 12, "refresh_token": "[REDACTED]"}
        assert first.created_at.tzinfo is not None
        assert second.level == "WARNING"
        assert second.request_id is None
        assert second.user_id is None
        assert second.extra is None

    async def test_exception_text_is_stored_in_extra(self, fresh_database: FreshDatabase) -> None:
        database = await fresh_database()
        handler = DBLogHandler(database, service="api")

        with attached(handler) as logger:
            try:
                raise RuntimeError("poll failed")
            except RuntimeError:
                logger.exception("job failed")
        await handler.drain()

        (row,) = await stored_rows(database, "api")
        assert row.level == "ERROR"
        assert row.extra is not None
        assert "RuntimeError: poll failed" in row.extra["exc_info"]

    async def test_values_longer_than_their_columns_are_cut_to_fit(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        handler = DBLogHandler(database, service="api")

        with attached(handler) as logger:
            logger.info("long ids", extra={"request_id": "r" * 300, "user_id": 2**40})
        assert await handler.drain() == 1

        (row,) = await stored_rows(database, "api")
        assert row.request_id == "r" * 64
        assert row.user_id is None

    async def test_background_writer_stores_everything_by_stop(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        handler = DBLogHandler(database, service="api", flush_interval_ms=60_000)
        await handler.start()

        with attached(handler) as logger:
            for n in range(3):
                logger.info("record %d", n)
        await handler.stop()

        assert [row.message for row in await stored_rows(database, "api")] == [
            "record 0",
            "record 1",
            "record 2",
        ]
        assert not handler.running

    async def test_full_batch_is_written_without_waiting_for_the_interval(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        inserted = asyncio.Event()

        @event.listens_for(database.engine.sync_engine, "after_cursor_execute")
        def on_insert(*_args: Any) -> None:
            inserted.set()

        handler = DBLogHandler(database, service="api", batch_size=5, flush_interval_ms=600_000)
        await handler.start()
        try:
            with attached(handler) as logger:
                for n in range(5):
                    logger.info("record %d", n)
            # Long before the ten-minute interval; the deadline only turns a hang into a failure.
            await asyncio.wait_for(inserted.wait(), timeout=10)
        finally:
            await handler.stop()

        assert handler.written_count == 5
        assert len(await stored_rows(database, "api")) == 5

    async def test_records_from_other_threads_are_all_stored(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        handler = DBLogHandler(database, service="api", batch_size=100)
        await handler.start()

        def log_many(logger: logging.Logger, thread_number: int) -> None:
            for n in range(250):
                logger.info("thread %d record %d", thread_number, n)

        try:
            with attached(handler) as logger:
                threads = [
                    threading.Thread(target=log_many, args=(logger, number)) for number in range(4)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    await asyncio.to_thread(thread.join)
        finally:
            await handler.stop()

        assert handler.written_count == 1000
        assert len(await stored_rows(database, "api")) == 1000

    async def test_full_buffer_keeps_the_newest_records(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        handler = DBLogHandler(database, service="api", capacity=10)

        with attached(handler) as logger:
            for n in range(25):
                logger.info("record %d", n)

        assert handler.pending_count == 10
        assert handler.dropped_count == 15
        await handler.drain()
        assert [row.message for row in await stored_rows(database, "api")] == [
            f"record {n}" for n in range(15, 25)
        ]

    async def test_writing_resumes_after_an_outage_and_says_so(
        self, fresh_database: FreshDatabase, unreachable_database: DatabaseManager
    ) -> None:
        database = await fresh_database()
        report = io.StringIO()
        handler = DBLogHandler(unreachable_database, service="api", error_stream=report)

        with attached(handler) as logger:
            logger.info("during the outage")
            assert await handler.drain() == 0
            handler.database = database
            logger.info("after the outage")
            assert await handler.drain() == 2

        assert [row.message for row in await stored_rows(database, "api")] == [
            "during the outage",
            "after the outage",
        ]
        assert report.getvalue().count(FAILURE_REPORT) == 1
        assert "writing log records to the database again" in report.getvalue()


class TestWhatIsQueued:
    def test_default_minimum_level_is_info(self, unreachable_database: DatabaseManager) -> None:
        handler = DBLogHandler(unreachable_database, service="api")

        with attached(handler) as logger:
            logger.debug("too chatty")
            logger.info("kept")

        assert handler.level == logging.INFO
        assert handler.pending_count == 1

    def test_minimum_level_is_configurable(self, unreachable_database: DatabaseManager) -> None:
        handler = DBLogHandler(unreachable_database, service="api", level="WARNING")

        with attached(handler) as logger:
            logger.info("skipped")
            logger.error("kept")

        assert handler.pending_count == 1

    @pytest.mark.parametrize(
        "name", ["sqlalchemy.engine.Engine", "sqlalchemy.pool", "asyncpg", "aiosqlite"]
    )
    def test_database_library_records_are_ignored(
        self, unreachable_database: DatabaseManager, name: str
    ) -> None:
        handler = DBLogHandler(unreachable_database, service="api")
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        try:
            logger.warning("about the handler's own writes")
        finally:
            logger.removeHandler(handler)

        assert handler.pending_count == 0


class TestUnreachableDatabase:
    async def test_emit_neither_blocks_nor_raises_while_the_database_is_down(
        self, unreachable_database: DatabaseManager
    ) -> None:
        report = io.StringIO()
        handler = DBLogHandler(
            unreachable_database,
            service="api",
            capacity=500,
            batch_size=50,
            flush_interval_ms=10,
            error_stream=report,
        )
        await handler.start()

        def log_many(logger: logging.Logger) -> None:
            for n in range(3000):
                logger.info("from a worker thread %d", n)

        try:
            with attached(handler) as logger:
                for n in range(3000):
                    logger.info("from the event loop %d", n)
                # A blocking emit would hang this thread; the deadline turns that into a failure.
                await asyncio.wait_for(asyncio.to_thread(log_many, logger), timeout=10)
                assert await handler.drain() == 0

                assert handler.running
                assert handler.pending_count <= 500
                assert handler.dropped_count > 0
                logger.info("still logging")
        finally:
            await handler.stop(grace_period=2)

        assert handler.written_count == 0
        assert report.getvalue().count(FAILURE_REPORT) == 1

    async def test_emit_does_not_wait_for_a_database_that_hangs(
        self, hanging_database: tuple[DatabaseManager, SilentServer]
    ) -> None:
        database, server = hanging_database
        report = io.StringIO()
        handler = DBLogHandler(
            database, service="api", flush_interval_ms=10, write_timeout=60, error_stream=report
        )
        await handler.start()
        try:
            with attached(handler) as logger:
                logger.info("first")
                # The writer is now stuck talking to a server that never answers.
                await asyncio.wait_for(server.connected.wait(), timeout=10)

                def log_many() -> None:
                    for n in range(1000):
                        logger.info("while the database hangs %d", n)

                await asyncio.wait_for(asyncio.to_thread(log_many), timeout=10)
                assert handler.pending_count == 1000
        finally:
            await handler.stop(grace_period=0.1)

        assert not handler.running
        assert "were not written to the database at shutdown" in report.getvalue()

    async def test_failed_write_does_not_feed_the_handler_its_own_records(
        self, unreachable_database: DatabaseManager
    ) -> None:
        report = io.StringIO()
        handler = DBLogHandler(
            unreachable_database,
            service="api",
            level=logging.DEBUG,
            max_attempts=2,
            excluded_loggers=(),
            error_stream=report,
        )
        connect_attempts = 0

        @event.listens_for(unreachable_database.engine.sync_engine, "do_connect")
        def log_while_writing(*_args: Any) -> None:
            # Code running inside the handler's write that logs, as drivers and hooks do.
            nonlocal connect_attempts
            connect_attempts += 1
            logging.getLogger("tests.inside_write").error("connecting for the log writer")

        root = logging.getLogger()
        previous_level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(handler)
        try:
            for n in range(3):
                logging.getLogger("tests.dblog.outage").info("record %d", n)
            assert handler.pending_count == 3

            for _ in range(3):
                assert await handler.drain() == 0
        finally:
            root.removeHandler(handler)
            root.setLevel(previous_level)

        assert connect_attempts >= 2
        assert handler.pending_count == 0
        assert handler.failed_count == 3
        assert handler.dropped_count == 0
        assert report.getvalue().count(FAILURE_REPORT) == 1
        assert "connecting for the log writer" not in report.getvalue()

    async def test_stop_gives_up_after_its_grace_period(
        self, unreachable_database: DatabaseManager
    ) -> None:
        report = io.StringIO()
        handler = DBLogHandler(unreachable_database, service="api", error_stream=report)
        await handler.start()

        with attached(handler) as logger:
            logger.info("cannot be written")
        await handler.stop(grace_period=2)

        assert not handler.running
        assert "1 log records were not written" in report.getvalue()
