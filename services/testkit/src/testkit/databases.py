"""Throw-away migrated databases on SQLite and PostgreSQL for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.manager import DatabaseManager
from shared.db.migrate import MigrationRunner

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def test_postgres_url() -> str:
    """The PostgreSQL server tests use (`TEST_POSTGRES_URL`)."""
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


class PostgresUnavailableError(RuntimeError):
    """The test PostgreSQL server cannot be reached."""


@dataclass
class PostgresDatabaseFactory:
    """Creates databases on the test server: one migrated template, cheap copies of it."""

    admin_url: str = field(default_factory=test_postgres_url)
    prefix: str = field(default_factory=lambda: f"smcp_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    _created: list[str] = field(default_factory=list)
    _template: str | None = None

    def _url_for(self, name: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=name)
        return url.render_as_string(hide_password=False)

    async def _admin(self) -> asyncpg.Connection:
        url = make_url(self.admin_url).set(drivername="postgresql")
        try:
            return await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            raise PostgresUnavailableError(
                f"PostgreSQL at {make_url(self.admin_url).render_as_string()} is not reachable: "
                f"{exc.__class__.__name__}"
            ) from exc

    async def template(self) -> str:
        """Name of a database migrated to head that nothing stays connected to."""
        if self._template is None:
            name = f"{self.prefix}_template"
            conn = await self._admin()
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            self._created.append(name)
            manager = DatabaseManager(self._url_for(name))
            try:
                await MigrationRunner(manager).upgrade()
            finally:
                await manager.dispose()
            self._template = name
        return self._template

    async def create(self, *, migrated: bool = True) -> str:
        """A new database URL: a copy of the migrated template, or empty."""
        name = f"{self.prefix}_{uuid.uuid4().hex[:8]}"
        source = await self.template() if migrated else "template0"
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        finally:
            await conn.close()
        self._created.append(name)
        return self._url_for(name)

    async def drop(self, url: str) -> None:
        """Drop one database made here (closing anything still connected)."""
        name = make_url(url).database
        if name is None:
            return
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        if name in self._created:
            self._created.remove(name)

    async def drop_all(self) -> None:
        """Drop every database this factory made."""
        for name in list(self._created):
            await self.drop(self._url_for(name))


@dataclass
class SqliteDatabaseFactory:
    """Creates SQLite files in a folder: one migrated template, copies of it."""

    directory: Path
    _template: Path | None = None

    async def template(self) -> Path:
        """Path of a file migrated to head."""
        if self._template is None:
            path = self.directory / "template.db"
            manager = DatabaseManager(f"sqlite+aiosqlite:///{path}")
            try:
                await MigrationRunner(manager).upgrade()
            finally:
                await manager.dispose()
            self._template = path
        return self._template

    async def create(self, *, migrated: bool = True) -> str:
        """A new database URL: a copy of the migrated template, or a new empty file."""
        path = self.directory / f"{uuid.uuid4().hex[:8]}.db"
        if migrated:
            shutil.copyfile(await self.template(), path)
        return f"sqlite+aiosqlite:///{path}"

    async def drop(self, url: str) -> None:
        """Delete a database file and its WAL companions."""
        database = make_url(url).database
        if database:
            for suffix in ("", "-wal", "-shm"):
                Path(database + suffix).unlink(missing_ok=True)
