"""Log records written to the `logs` table in batches, off the path of the code that logs.

`emit` only appends to a bounded in-memory buffer; a background task on the event loop
writes the buffer with one multi-row INSERT per batch. The database being slow, down or
refusing a batch never blocks, raises into or takes down the code that logs: failed batches
are retried a few times and then dropped, and the failure is reported once on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections import deque
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, TextIO

from sqlalchemy import insert, null
from sqlalchemy.exc import DBAPIError

from shared.db.manager import DatabaseManager
from shared.db.models import LogEntry
from shared.logging.event import LogEvent
from shared.logging.formatter import JsonFormatter
from shared.logging.redaction import redact_text

# Records from the database drivers are mostly about the handler's own writes; storing
# them would feed the handler its own output. Access lines would flood the table.
DEFAULT_EXCLUDED_LOGGERS = ("sqlalchemy", "asyncpg", "aiosqlite", "uvicorn.access")

# PostgreSQL binds at most 32767 parameters per statement; a row of `logs` takes 10.
MAX_BATCH_SIZE = 2000
_MAX_BACKOFF_SECONDS = 60.0
_INT32 = 2**31
_INT64 = 2**63

# True inside the handler's own writes: whatever logs there (SQLAlchemy event hooks, the
# driver, the handler) must not be queued again.
_writing_logs: ContextVar[bool] = ContextVar("shared_writing_logs", default=False)


def _column_length(name: str) -> int:
    length = getattr(LogEntry.__table__.c[name].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"logs.{name} is expected to be a VARCHAR with a length")
    return length


_SERVICE_LENGTH = _column_length("service")
_LEVEL_LENGTH = _column_length("level")
_LOGGER_LENGTH = _column_length("logger")
_REQUEST_ID_LENGTH = _column_length("request_id")


def _within(value: int | None, bound: int) -> int | None:
    """The id when the column can hold it; an id that would fail the whole batch is dropped."""
    return value if value is not None and -bound <= value < bound else None


class DBLogHandler(logging.Handler):
    """Stores log records in the `logs` table for the admin log viewer, never blocking callers."""

    def __init__(
        self,
        database: DatabaseManager,
        *,
        service: str,
        level: int | str = logging.INFO,
        capacity: int = 10_000,
        batch_size: int = 500,
        flush_interval_ms: int = 1000,
        max_attempts: int = 3,
        write_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        excluded_loggers: Iterable[str] = DEFAULT_EXCLUDED_LOGGERS,
        error_stream: TextIO | None = None,
    ) -> None:
        super().__init__(level)
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        if flush_interval_ms <= 0:
            raise ValueError("flush_interval_ms must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.database = database
        self.service = service
        self._capacity = capacity
        self._batch_size = batch_size
        self._flush_interval = flush_interval_ms / 1000
        self._max_attempts = max_attempts
        self._write_timeout = write_timeout
        self._stop_timeout = stop_timeout
        self._excluded = tuple(excluded_loggers)
        self._error_stream = error_stream
        self._report_formatter = JsonFormatter(service)

        # `emit` runs on any thread; the buffer and its counters are shared with the loop.
        self._buffer: deque[dict[str, Any]] = deque()
        self._buffer_lock = threading.Lock()
        self._dropped = 0
        self._wake_requested = False

        # Owned by the event loop the handler was started on.
        self._write_lock = asyncio.Lock()
        self._in_flight: list[dict[str, Any]] | None = None
        self._attempts = 0
        self._consecutive_failures = 0
        self._failed = 0
        self._written = 0
        self._failed_while_down = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pending_count(self) -> int:
        """Records buffered and not yet handed to the database."""
        with self._buffer_lock:
            return len(self._buffer)

    @property
    def dropped_count(self) -> int:
        """Records discarded because the buffer was full (the oldest go first)."""
        with self._buffer_lock:
            return self._dropped

    @property
    def failed_count(self) -> int:
        """Records discarded because their batch could not be written after every attempt."""
        return self._failed

    @property
    def written_count(self) -> int:
        """Records stored in the database."""
        return self._written

    @property
    def running(self) -> bool:
        """True while the background writer runs."""
        return self._task is not None and not self._task.done()

    def emit(self, record: logging.LogRecord) -> None:
        """Buffer the record; never waits for the database and never raises."""
        if _writing_logs.get() or self._is_excluded(record.name):
            return
        try:
            row = self._row(LogEvent.from_record(record, self.service))
        except Exception:
            self.handleError(record)
            return
        with self._buffer_lock:
            if len(self._buffer) >= self._capacity:
                self._buffer.popleft()
                self._dropped += 1
            self._buffer.append(row)
            wake = len(self._buffer) >= self._batch_size and not self._wake_requested
            if wake:
                self._wake_requested = True
        if wake:
            self._wake_writer()

    async def start(self) -> None:
        """Start the background writer on the running event loop."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        # asyncio primitives belong to one loop; a restart may happen on another one.
        self._write_lock = asyncio.Lock()
        self._stopping = False
        self._task = self._loop.create_task(self._run(), name=f"db-log-writer-{self.service}")

    async def stop(self, grace_period: float | None = None) -> None:
        """Write what is buffered, waiting at most `grace_period` seconds, then stop the writer.

        Without a grace period the handler's `stop_timeout` applies.
        """
        task = self._task
        if task is None:
            return
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        try:
            await asyncio.wait_for(
                task, self._stop_timeout if grace_period is None else grace_period
            )
        except TimeoutError:
            pass  # wait_for cancelled the writer; what it held is counted below
        except Exception as exc:  # shutting down must go on whatever the writer did
            self._report(f"log writer error at shutdown: {type(exc).__name__}")
        finally:
            self._task = None
            self._loop = None
            self._wake = None
        unwritten = self.pending_count + len(self._in_flight or ())
        if unwritten:
            self._report(
                f"{unwritten} log records were not written to the database at shutdown",
                level=logging.WARNING,
            )

    async def drain(self) -> int:
        """Write everything buffered now; returns how many records were stored.

        Stops at the first failed write, which leaves that batch for a later, bounded retry.
        """
        return await self._write_pending()

    def _is_excluded(self, name: str) -> bool:
        return any(name == prefix or name.startswith(f"{prefix}.") for prefix in self._excluded)

    def _row(self, event: LogEvent) -> dict[str, Any]:
        extra = event.extra_for_storage()
        return {
            "created_at": event.created_at,
            "service": event.service[:_SERVICE_LENGTH],
            "level": event.level[:_LEVEL_LENGTH],
            "logger": event.logger[:_LOGGER_LENGTH],
            "message": event.message,
            "request_id": event.request_id[:_REQUEST_ID_LENGTH] if event.request_id else None,
            "user_id": _within(event.user_id, _INT32),
            "job_run_id": _within(event.job_run_id, _INT64),
            "import_job_id": _within(event.import_job_id, _INT32),
            # SQL NULL rather than a JSON `null` document when there is nothing extra.
            "extra": extra if extra else null(),
        }

    def _wake_writer(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return  # not started: the records wait in the buffer
        if threading.get_ident() == self._loop_thread:
            wake.set()
            return
        # A closed loop raises RuntimeError: nothing will write any more, so nothing to wake.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    def _take_batch(self) -> list[dict[str, Any]]:
        with self._buffer_lock:
            count = min(self._batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(count)]
            if len(self._buffer) < self._batch_size:
                self._wake_requested = False
            return batch

    async def _run(self) -> None:
        _writing_logs.set(True)
        while not self._stopping:
            try:
                if await self._wait_for_work():
                    await self._write_pending()
            except Exception as exc:  # a bug here must not end the writer for good
                self._report(f"log writer error: {type(exc).__name__}")
        await self._write_pending()

    async def _wait_for_work(self) -> bool:
        """Sleep for the flush interval, or less when a full batch is waiting; False on stop.

        While the database fails, sleep with an exponential back-off and ignore full
        batches, so a busy service does not hammer a database that is down.
        """
        wake = self._wake
        assert wake is not None
        loop = asyncio.get_running_loop()
        delay = self._flush_interval
        if self._consecutive_failures:
            delay = min(delay * 2**self._consecutive_failures, _MAX_BACKOFF_SECONDS)
        deadline = loop.time() + delay
        while not self._stopping:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            try:
                await asyncio.wait_for(wake.wait(), remaining)
            except TimeoutError:
                return True
            wake.clear()
            if not self._consecutive_failures:
                return not self._stopping
        return False

    async def _write_pending(self) -> int:
        written = 0
        async with self._write_lock:
            token = _writing_logs.set(True)
            try:
                while True:
                    if self._in_flight is None:
                        self._in_flight = self._take_batch() or None
                    if self._in_flight is None:
                        break
                    batch = self._in_flight
                    if not await self._write_batch(batch):
                        break
                    written += len(batch)
            finally:
                _writing_logs.reset(token)
        return written

    async def _write_batch(self, batch: list[dict[str, Any]]) -> bool:
        try:
            async with asyncio.timeout(self._write_timeout):
                async with self.database.engine.begin() as conn:
                    await conn.execute(insert(LogEntry).values(batch))
        except Exception as exc:  # whatever the database does, the service goes on
            self._record_failure(batch, exc)
            return False
        self._in_flight = None
        self._attempts = 0
        self._written += len(batch)
        if self._consecutive_failures:
            self._report(
                "writing log records to the database again; "
                f"{self._failed_while_down} records were dropped while it failed",
                level=logging.WARNING,
            )
            self._consecutive_failures = 0
            self._failed_while_down = 0
        return True

    def _record_failure(self, batch: list[dict[str, Any]], exc: Exception) -> None:
        self._attempts += 1
        if self._attempts >= self._max_attempts:
            self._in_flight = None
            self._attempts = 0
            self._failed += len(batch)
            self._failed_while_down += len(batch)
        if not self._consecutive_failures:
            self._report(
                f"cannot write log records to the database ({self._describe(exc)}); "
                "lines on stderr are unaffected; each batch is tried "
                f"{self._max_attempts} times, then dropped. Reporting again when writing works"
            )
        self._consecutive_failures += 1

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, TimeoutError):
            return f"no answer within {self._write_timeout:g}s"
        # SQLAlchemy's own message repeats the statement and its parameters: use the driver's.
        cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
        detail = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
        name = type(cause).__name__
        return redact_text(f"{name}: {detail}" if detail else name)

    def _report(self, message: str, *, level: int = logging.ERROR) -> None:
        """Tell the operator on stderr, bypassing logging so nothing can loop back here."""
        record = logging.LogRecord(__name__, level, __file__, 0, message, None, None)
        stream = self._error_stream or sys.stderr
        try:
            stream.write(self._report_formatter.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: S110  (stderr itself is gone: nowhere left to tell)
            pass
