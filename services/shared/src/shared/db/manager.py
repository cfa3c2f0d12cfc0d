"""The async engine and sessions, set up right for SQLite and for PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool

from shared.config import DatabaseSettings


class SessionSource(Protocol):
    """Anything that hands out units of work: the DatabaseManager, or a test's transaction."""

    def session(self, *, write: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        """A session that commits when its block succeeds and rolls back when it raises."""
        ...


# Every PostgreSQL connection's session settings. asyncpg prepares each statement, and after
# five runs PostgreSQL may switch a prepared statement to a generic plan, one made without the
# parameters' values: for a range over one user's plays that plan can be ten times slower than
# the first run's. Planning each run again costs well under a millisecond. JIT compilation
# and parallel workers, which the planner starts for any statement it estimates as large,
# cost more than they save on statements that read one user's rows by index (starting two
# workers took 11 ms for a join that ran in 0.3 ms).
POSTGRES_SESSION_SETTINGS = {
    "plan_cache_mode": "force_custom_plan",
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
}

# How many prepared statements each PostgreSQL connection keeps (SQLAlchemy's default is 100).
# The history answers alone are some hundreds of statements, each window's shape its own text:
# with 100, a server answering every tool prepared most of them again on each request (one
# more round trip and parse each), and a five-year comparison took 56 ms instead of 43.
POSTGRES_PREPARED_STATEMENTS = 1000

# Execution option naming the statement that opens a SQLite transaction.
_SQLITE_BEGIN = "spotify_mcp_sqlite_begin"


def normalise_database_url(url: str | URL) -> URL:
    """Pick the async driver for a plain `sqlite://` or `postgresql://` URL."""
    parsed = make_url(url)
    if parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"}:
        return parsed.set(drivername="postgresql+asyncpg")
    return parsed


class DatabaseManager:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        busy_timeout_ms: int = 5000,
        echo: bool = False,
        pool_sqlite: bool = False,
    ) -> None:
        self.url = normalise_database_url(url)
        self._busy_timeout_ms = busy_timeout_ms
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            self._ensure_sqlite_directory()
            if pool_sqlite:
                # A server's one event loop: opening a connection (a thread, the file, the
                # pragmas) costs more than most of its requests' statements. No overflow:
                # each connection is a thread of this process, and beyond a few they only
                # contend for the interpreter lock (SQLite writes one at a time anyway).
                kwargs.update(poolclass=AsyncAdaptedQueuePool, pool_size=pool_size, max_overflow=0)
            else:
                # NullPool never shares a connection across event loops, which tests and
                # command-line runs may each start.
                kwargs["poolclass"] = NullPool
        else:
            kwargs.update(
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,
                connect_args={
                    "server_settings": POSTGRES_SESSION_SETTINGS,
                    "prepared_statement_cache_size": POSTGRES_PREPARED_STATEMENTS,
                },
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            self._configure_sqlite(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Sessions that write use an engine whose every transaction, not only the first,
        # opens with BEGIN IMMEDIATE on SQLite (elsewhere the option is ignored).
        self._write_engine = self.engine.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})

    @classmethod
    def from_settings(cls, settings: DatabaseSettings, *, server: bool = False) -> DatabaseManager:
        """Build from the database settings; `server=True` pools SQLite connections too (for a
        process that runs one event loop for its whole life)."""
        return cls(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            busy_timeout_ms=settings.database_busy_timeout_ms,
            echo=settings.database_echo,
            pool_sqlite=server,
        )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        """True on SQLite."""
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block succeeds, rolls back when it raises.

        `write=True` says the block will write. On SQLite its transaction then starts with
        BEGIN IMMEDIATE: a transaction that reads first and writes later would otherwise
        fail with "database is locked" whenever another connection committed in between
        (WAL snapshots cannot be upgraded), and no busy timeout helps with that.
        """
        bind = self._write_engine if write and self.is_sqlite else self.engine
        async with self.sessionmaker(bind=bind) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not reachable"
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    def _ensure_sqlite_directory(self) -> None:
        database = self.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    def _configure_sqlite(self, engine: AsyncEngine) -> None:
        busy_timeout_ms = self._busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so
            # SAVEPOINTs and rollbacks behave as on PostgreSQL.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))
