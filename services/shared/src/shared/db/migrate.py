"""Apply and inspect Alembic migrations from code (the CLI, start-up checks and tests)."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from shared.db.manager import DatabaseManager


class MigrationRunner:
    """Runs Alembic against one database, on the manager's own async engine."""

    SCRIPT_LOCATION = "shared.db:migrations"

    def __init__(self, database: DatabaseManager) -> None:
        self._database = database

    def config(self) -> Config:
        """An Alembic config pointing at the packaged migrations."""
        cfg = Config()
        cfg.set_main_option("script_location", self.SCRIPT_LOCATION)
        return cfg

    def head_revision(self) -> str | None:
        """The newest revision the code knows."""
        return ScriptDirectory.from_config(self.config()).get_current_head()

    async def upgrade(self, revision: str = "head") -> None:
        """Migrate up to `revision`."""
        await self._run(lambda cfg: command.upgrade(cfg, revision))

    async def downgrade(self, revision: str = "base") -> None:
        """Migrate down to `revision`."""
        await self._run(lambda cfg: command.downgrade(cfg, revision))

    async def current_revision(self) -> str | None:
        """The revision the database is at, or None when it was never migrated."""
        async with self._database.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    async def is_at_head(self) -> bool:
        """True when the database schema is at the code's head revision."""
        return await self.current_revision() == self.head_revision()

    async def _run(self, action: Callable[[Config], object]) -> None:
        cfg = self.config()

        def _with_connection(connection: Connection) -> None:
            cfg.attributes["connection"] = connection
            action(cfg)

        async with self._database.engine.connect() as conn:
            await conn.run_sync(_with_connection)
            await conn.commit()
