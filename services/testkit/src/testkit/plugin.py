"""Pytest plugin: every SQL test runs on SQLite and on PostgreSQL.

`database` and `db_session` are parametrised by dialect; pytest groups the tests by it, so
each dialect's database is built once per run. With CI=true a missing PostgreSQL fails the
run instead of skipping.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.manager import DatabaseManager
from testkit.databases import (
    PostgresDatabaseFactory,
    PostgresUnavailableError,
    SqliteDatabaseFactory,
)

DIALECTS = ("sqlite", "postgresql")

FreshDatabase = Callable[..., Awaitable[DatabaseManager]]


# Settings a developer may have exported or put in .env; tests set what they need explicitly.
_PROJECT_VARIABLE_PREFIXES = (
    "APP_ENV",
    "LOG_",
    "DATABASE_",
    "SPOTIFY_",
    "TOKEN_ENCRYPTION_KEYS",
    "ADMIN_",
    "SECRET_KEY",
    "PUBLIC_BASE_URL",
    "FRONTEND_",
    "API_",
    "OAUTH_",
    "DEMO_",
    "COLLECTOR_",
    "FAKE_SPOTIFY_",
    "IMPORT_",
    "CORS_",
    "TRUSTED_PROXIES",
    "RATE_LIMIT_",
    "AUTH_RATE_LIMIT",
    "TOOL_RATE_LIMIT",
    "CREDENTIAL_FAILURE_RATE_LIMIT",
    "METRICS_",
)


@pytest.fixture(autouse=True)
def isolated_from_local_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Run each test away from the checkout's .env and data/, without the project's variables."""
    for name in list(os.environ):
        if name.startswith(_PROJECT_VARIABLE_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
async def postgres_factory() -> AsyncIterator[PostgresDatabaseFactory | None]:
    """The PostgreSQL database factory, or None when the server is down outside CI."""
    factory = PostgresDatabaseFactory()
    try:
        await factory.template()
    except PostgresUnavailableError as exc:
        if _in_ci():
            pytest.fail(f"{exc} (CI=true: PostgreSQL is required)", pytrace=False)
        yield None
        return
    yield factory
    await factory.drop_all()


@pytest.fixture(scope="session")
async def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabaseFactory:
    """The SQLite database factory, files in a temporary folder."""
    return SqliteDatabaseFactory(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session", params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    """The database dialect this test runs on."""
    return str(request.param)


@pytest.fixture(scope="session")
def database_factory(
    dialect: str, request: pytest.FixtureRequest
) -> SqliteDatabaseFactory | PostgresDatabaseFactory:
    """The factory of the current dialect (skips PostgreSQL tests only outside CI)."""
    if dialect == "sqlite":
        sqlite: SqliteDatabaseFactory = request.getfixturevalue("sqlite_factory")
        return sqlite
    postgres_factory: PostgresDatabaseFactory | None = request.getfixturevalue("postgres_factory")
    if postgres_factory is None:
        pytest.skip("PostgreSQL is not reachable (set TEST_POSTGRES_URL; required when CI=true)")
    return postgres_factory


@pytest.fixture(scope="session")
async def database(
    database_factory: SqliteDatabaseFactory | PostgresDatabaseFactory,
) -> AsyncIterator[DatabaseManager]:
    """A migrated database shared by the run's tests of one dialect."""
    async with migrated_database(database_factory) as manager:
        yield manager


@asynccontextmanager
async def migrated_database(
    database_factory: SqliteDatabaseFactory | PostgresDatabaseFactory,
) -> AsyncIterator[DatabaseManager]:
    """A new migrated database, dropped when the block ends."""
    url = await database_factory.create()
    manager = DatabaseManager(url)
    try:
        yield manager
    finally:
        await manager.dispose()
        await database_factory.drop(url)


@pytest.fixture
async def db_session(database: DatabaseManager) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may commit: commits become SAVEPOINT releases inside the outer transaction.
    """
    async with database.engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


@pytest.fixture
async def fresh_database(
    database_factory: SqliteDatabaseFactory | PostgresDatabaseFactory,
) -> AsyncIterator[FreshDatabase]:
    """Makes new databases (migrated unless migrated=False) for tests needing many connections."""
    made: list[tuple[str, DatabaseManager]] = []

    async def make(*, migrated: bool = True) -> DatabaseManager:
        url = await database_factory.create(migrated=migrated)
        manager = DatabaseManager(url)
        made.append((url, manager))
        return manager

    yield make
    for url, manager in made:
        await manager.dispose()
        await database_factory.drop(url)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, Any, None]:
    """Label each test report with the dialect it ran on, for the summary below."""
    outcome = yield
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "dialect" in callspec.params:
        outcome.get_result().user_properties.append(("dialect", callspec.params["dialect"]))


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Say how many tests passed on each database."""
    counts: Counter[str] = Counter()
    for report in terminalreporter.stats.get("passed", []):
        if report.when == "call":
            counts.update(value for key, value in report.user_properties if key == "dialect")
    if counts:
        terminalreporter.write_sep("-", "SQL tests by database")
        for name in DIALECTS:
            terminalreporter.write_line(f"{name}: {counts[name]} passed")
