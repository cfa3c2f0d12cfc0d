"""DatabaseManager: the same behaviour on SQLite and PostgreSQL where it matters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.manager import (
    POSTGRES_PREPARED_STATEMENTS,
    DatabaseManager,
    normalise_database_url,
)
from shared.db.models import Play, User
from testkit.factories import create_play, create_track, create_user
from testkit.plugin import FreshDatabase


class TestUrls:
    @pytest.mark.parametrize(
        ("given", "driver"),
        [
            ("sqlite:///data/x.db", "sqlite+aiosqlite"),
            ("postgresql://u@h/db", "postgresql+asyncpg"),
            ("postgres://u@h/db", "postgresql+asyncpg"),
            ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
        ],
    )
    def test_plain_urls_get_the_async_driver(self, given: str, driver: str) -> None:
        assert normalise_database_url(given).drivername == driver

    async def test_sqlite_directory_is_created(self, tmp_path: object) -> None:
        from pathlib import Path  # noqa: PLC0415

        target = Path(str(tmp_path)) / "nested" / "dir" / "db.sqlite"
        manager = DatabaseManager(f"sqlite:///{target}")
        try:
            assert await manager.ping()
        finally:
            await manager.dispose()
        assert target.parent.is_dir()


class TestSqlitePragmas:
    async def test_wal_foreign_keys_and_busy_timeout(self, tmp_path: object) -> None:
        manager = DatabaseManager(f"sqlite:///{tmp_path}/p.db", busy_timeout_ms=1234)
        try:
            async with manager.engine.connect() as conn:
                assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
                assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
                assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 1234
        finally:
            await manager.dispose()


class TestPostgresSessionSettings:
    async def test_every_connection_plans_each_run_without_jit_or_parallel_workers(
        self, dialect: str, database: DatabaseManager
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("PostgreSQL session settings")
        async with database.session() as session:
            assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
            assert await session.scalar(text("SHOW jit")) == "off"
            assert await session.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"

    async def test_every_connection_keeps_a_thousand_prepared_statements(
        self, dialect: str, database: DatabaseManager
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("PostgreSQL prepared statements")
        async with database.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            cache = raw.dbapi_connection._prepared_statement_cache  # type: ignore[union-attr]
            assert cache.capacity == POSTGRES_PREPARED_STATEMENTS == 1000


class TestBehaviourOnBothDialects:
    async def test_timestamps_come_back_timezone_aware_in_utc(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        stockholm = timezone(timedelta(hours=1))
        played = datetime(2024, 3, 1, 13, 30, 15, 123000, tzinfo=stockholm)
        await create_play(db_session, user=user, track=track, played_at=played)
        db_session.expunge_all()

        stored = await db_session.scalar(select(Play.played_at).where(Play.user_id == user.id))
        assert stored == played
        assert stored is not None
        assert stored.tzinfo is not None
        assert stored.utcoffset() == timedelta(0)

    async def test_naive_timestamps_are_refused(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        with pytest.raises(StatementError, match="naive datetime"):
            await create_play(
                db_session,
                user=user,
                track=track,
                played_at=datetime(2024, 1, 1, 12, 0),  # noqa: DTZ001
            )

    async def test_foreign_keys_are_enforced(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        db_session.add(
            Play(
                user_id=user.id,
                track_id="does-not-exist",
                played_at=datetime.now(UTC),
                ms_played=1,
                source="api",
            )
        )
        with pytest.raises(IntegrityError):
            await db_session.flush()

    async def test_a_play_is_unique_per_user_time_and_track(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        at = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
        await create_play(db_session, user=user, track=track, played_at=at)
        with pytest.raises(IntegrityError):
            await create_play(db_session, user=user, track=track, played_at=at)

    async def test_deleting_a_user_removes_their_plays(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        await create_play(db_session, user=user, track=track)
        await db_session.execute(delete(User).where(User.id == user.id))
        remaining = await db_session.scalar(select(Play.id).where(Play.user_id == user.id))
        assert remaining is None


class TestSessions:
    async def test_session_commits_on_success_and_rolls_back_on_error(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        async with database.session() as session:
            session.add(User(spotify_user_id="kept"))

        async def add_then_fail() -> None:
            async with database.session() as session:
                session.add(User(spotify_user_id="dropped"))
                await session.flush()
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await add_then_fail()
        async with database.session() as session:
            names = set((await session.scalars(select(User.spotify_user_id))).all())
        assert names == {"kept"}

    async def test_ping_is_false_for_an_unreachable_server(self) -> None:
        manager = DatabaseManager("postgresql+asyncpg://postgres@127.0.0.1:1/none")
        try:
            assert not await manager.ping()
        finally:
            await manager.dispose()


class TestConcurrentWrites:
    async def test_read_then_write_transactions_all_succeed(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()

        async def read_then_write(n: int) -> None:
            async with database.session(write=True) as session:
                await session.scalar(select(User.id))  # read first...
                await asyncio.sleep(0.01)  # ...let the others commit in between...
                session.add(User(spotify_user_id=f"concurrent-{n}"))  # ...then write

        await asyncio.gather(*(read_then_write(n) for n in range(8)))
        async with database.session() as session:
            count = len((await session.scalars(select(User.id))).all())
        assert count == 8


class TestSqlitePooling:
    async def test_a_server_keeps_its_sqlite_connections_open(self, tmp_path: object) -> None:
        pooled = DatabaseManager(f"sqlite:///{tmp_path}/pooled.db", pool_sqlite=True)
        unpooled = DatabaseManager(f"sqlite:///{tmp_path}/unpooled.db")
        try:
            for manager, reused in ((pooled, True), (unpooled, False)):
                seen = []
                for _ in range(2):
                    async with manager.session() as session:
                        raw = await (await session.connection()).get_raw_connection()
                        seen.append(raw.driver_connection)
                assert (seen[0] is seen[1]) is reused
                # Pooled or not, each connection has the pragmas and WAL.
                async with manager.session() as session:
                    assert await session.scalar(text("PRAGMA foreign_keys")) == 1
                    assert await session.scalar(text("PRAGMA journal_mode")) == "wal"
        finally:
            await pooled.dispose()
            await unpooled.dispose()

    async def test_a_server_opens_no_sqlite_connections_beyond_its_pool(
        self, tmp_path: object
    ) -> None:
        pooled = DatabaseManager(
            f"sqlite:///{tmp_path}/capped.db", pool_size=2, max_overflow=10, pool_sqlite=True
        )
        try:
            opened: list[object] = []
            two_open, release = asyncio.Event(), asyncio.Event()

            async def hold() -> None:
                async with pooled.session() as session:
                    raw = await (await session.connection()).get_raw_connection()
                    opened.append(raw.driver_connection)
                    if len(opened) == 2:
                        two_open.set()
                    await release.wait()

            holders = [asyncio.create_task(hold()) for _ in range(3)]
            await asyncio.wait_for(two_open.wait(), timeout=10)
            await asyncio.sleep(0.1)
            assert len(opened) == 2  # the third waits for a connection...
            release.set()
            await asyncio.gather(*holders)
            assert len(opened) == 3  # ... and gets one once another is back
            assert len({id(connection) for connection in opened}) == 2  # a reused one
        finally:
            await pooled.dispose()
