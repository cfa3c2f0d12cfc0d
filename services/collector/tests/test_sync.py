"""Polling, initial sync, tokens, deferrals and job records against the fake Spotify."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collector.job_tracker import JobOutcome
from collector.run_loop import CollectorRunLoop, RunLoopOptions
from fake_spotify import FakeSpotifyServer
from shared.crypto import TokenEncryptor
from shared.db.enums import InitialSyncStatus, ItemKind, JobStatus, JobType, PlaySource, UserStatus
from shared.db.manager import DatabaseManager
from shared.db.models import JobRun, LogEntry, Play, SpotifyToken, SyncCheckpoint, User
from shared.logging import DBLogHandler
from shared.plays.model import NormalizedPlay
from shared.plays.writer import PlayWriter
from shared.spotify import SpotifyClient
from testkit.factories import create_checkpoint, create_job_run, create_spotify_token, create_user
from testkit.plugin import FreshDatabase
from testkit.spotify import authorise_user

INTERVAL = timedelta(minutes=10)


async def connect_user(
    database: DatabaseManager,
    fake: FakeSpotifyServer,
    client: SpotifyClient,
    encryptor: TokenEncryptor,
    spotify_user_id: str = "demo",
    *,
    caught_up: bool = True,
    next_poll_at: datetime | None = None,
) -> int:
    """A user authorised against the fake, tokens stored encrypted, due for a poll now."""
    tokens = await authorise_user(fake, client, spotify_user_id)
    visible = fake.state.visible_plays(spotify_user_id)
    after = int(visible[-1].played_at.timestamp() * 1000) if caught_up and visible else None
    async with database.session(write=True) as session:
        user = await create_user(session, spotify_user_id=spotify_user_id)
        await create_spotify_token(
            session,
            user=user,
            access_token_encrypted=encryptor.encrypt(tokens.tokens.access_token),
            refresh_token_encrypted=encryptor.encrypt(tokens.refresh_token),
        )
        await create_checkpoint(
            session,
            user=user,
            initial_sync_status=InitialSyncStatus.DONE if caught_up else InitialSyncStatus.PENDING,
            after_cursor_ms=after,
            next_poll_at=next_poll_at or datetime.now(UTC) - timedelta(seconds=1),
        )
        return user.id


def make_loop(
    database: DatabaseManager,
    client: SpotifyClient,
    encryptor: TokenEncryptor,
    *,
    concurrency: int = 4,
) -> CollectorRunLoop:
    return CollectorRunLoop(
        database,
        client,
        encryptor,
        RunLoopOptions(interval=INTERVAL, concurrency=concurrency),
        collector_id="test-collector",
    )


async def run_pass(loop: CollectorRunLoop) -> int:
    started = await loop.run_once()
    await loop.wait_idle()
    return started


async def play_count(database: DatabaseManager, user_id: int) -> int:
    async with database.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Play).where(Play.user_id == user_id)
        )
    return int(count or 0)


async def jobs_of(database: DatabaseManager, user_id: int) -> list[JobRun]:
    async with database.session() as session:
        rows = await session.scalars(
            select(JobRun).where(JobRun.user_id == user_id).order_by(JobRun.id)
        )
        return list(rows)


async def checkpoint_of(database: DatabaseManager, user_id: int) -> SyncCheckpoint:
    async with database.session() as session:
        checkpoint = await session.get(SyncCheckpoint, user_id)
    assert checkpoint is not None
    return checkpoint


@pytest.fixture
def encryptor() -> TokenEncryptor:
    return TokenEncryptor([TokenEncryptor.generate_key()])


class TestPolling:
    async def test_poll_after_downtime_keeps_every_play(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(database, fake_spotify, spotify_client, encryptor)
        added = fake_spotify.state.add_plays("demo", 49)

        assert await run_pass(make_loop(database, spotify_client, encryptor)) == 1

        assert await play_count(database, user_id) == 49
        (job,) = await jobs_of(database, user_id)
        assert job.status is JobStatus.SUCCEEDED
        assert job.job_type is JobType.POLL
        assert (job.records_fetched, job.records_inserted) == (49, 49)
        assert job.stats is not None
        assert job.stats["possible_gap"] is False
        checkpoint = await checkpoint_of(database, user_id)
        assert checkpoint.after_cursor_ms == int(added[-1].played_at.timestamp() * 1000)
        assert checkpoint.next_poll_at is not None
        assert checkpoint.next_poll_at > datetime.now(UTC) + INTERVAL - timedelta(minutes=1)

    async def test_a_full_page_is_recorded_as_a_possible_gap(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(database, fake_spotify, spotify_client, encryptor)
        fake_spotify.state.add_plays("demo", 80)  # Spotify remembers only the newest 50

        await run_pass(make_loop(database, spotify_client, encryptor))

        assert await play_count(database, user_id) == 50
        (job,) = await jobs_of(database, user_id)
        assert job.status is JobStatus.SUCCEEDED
        assert job.stats is not None
        assert job.stats["possible_gap"] is True

    async def test_the_next_poll_adds_only_new_plays(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(database, fake_spotify, spotify_client, encryptor)
        fake_spotify.state.add_plays("demo", 5)
        loop = make_loop(database, spotify_client, encryptor)
        await run_pass(loop)
        fake_spotify.state.add_plays("demo", 3)
        async with database.session(write=True) as session:
            checkpoint = await session.get(SyncCheckpoint, user_id)
            assert checkpoint is not None
            checkpoint.next_poll_at = datetime.now(UTC) - timedelta(seconds=1)

        await run_pass(loop)

        assert await play_count(database, user_id) == 8
        assert [job.records_inserted for job in await jobs_of(database, user_id)] == [5, 3]


class TestInitialSync:
    async def test_backfills_what_spotify_remembers_then_polls_after_it(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(
            database, fake_spotify, spotify_client, encryptor, caught_up=False
        )

        await run_pass(make_loop(database, spotify_client, encryptor))

        assert await play_count(database, user_id) == 50  # the fake's retention
        (job,) = await jobs_of(database, user_id)
        assert job.job_type is JobType.INITIAL_SYNC
        assert job.status is JobStatus.SUCCEEDED
        assert job.stats is not None
        assert job.stats["stopped_because"] == "empty_page"
        checkpoint = await checkpoint_of(database, user_id)
        assert checkpoint.initial_sync_status is InitialSyncStatus.DONE
        newest = fake_spotify.state.visible_plays("demo")[-1]
        assert checkpoint.after_cursor_ms == int(newest.played_at.timestamp() * 1000)


class TestTokens:
    async def test_invalid_grant_marks_reauth_required_and_stops_calls(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(database, fake_spotify, spotify_client, encryptor)
        fake_spotify.state.revoke_refresh_tokens("demo")
        fake_spotify.state.expire_access_tokens("demo")
        before = sum(fake_spotify.state.request_counts.values())
        loop = make_loop(database, spotify_client, encryptor)

        await run_pass(loop)

        # One refused API call, one refused refresh: no retry storm.
        assert sum(fake_spotify.state.request_counts.values()) - before == 2
        async with database.session() as session:
            user = await session.get(User, user_id)
        assert user is not None
        assert user.status is UserStatus.REAUTH_REQUIRED
        assert user.status_reason is not None
        assert "invalid_grant" in user.status_reason
        (job,) = await jobs_of(database, user_id)
        assert job.status is JobStatus.FAILED
        assert job.error_message is not None

        async with database.session(write=True) as session:
            checkpoint = await session.get(SyncCheckpoint, user_id)
            assert checkpoint is not None
            checkpoint.next_poll_at = datetime.now(UTC) - timedelta(seconds=1)
        calls = sum(fake_spotify.state.request_counts.values())
        assert await run_pass(loop) == 0
        assert sum(fake_spotify.state.request_counts.values()) == calls

    async def test_a_rotated_refresh_token_is_stored_encrypted(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(database, fake_spotify, spotify_client, encryptor)
        async with database.session() as session:
            old = await session.scalar(select(SpotifyToken).where(SpotifyToken.user_id == user_id))
        assert old is not None
        old_refresh = encryptor.decrypt(old.refresh_token_encrypted)
        fake_spotify.state.switches.rotate_refresh_tokens = True
        fake_spotify.state.expire_access_tokens("demo")
        fake_spotify.state.add_plays("demo", 2)

        await run_pass(make_loop(database, spotify_client, encryptor))

        async with database.session() as session:
            stored = await session.scalar(
                select(SpotifyToken).where(SpotifyToken.user_id == user_id)
            )
        assert stored is not None
        new_refresh = encryptor.decrypt(stored.refresh_token_encrypted)
        assert new_refresh != old_refresh
        assert new_refresh not in stored.refresh_token_encrypted
        assert await play_count(database, user_id) == 2
        # The old token was retired by the rotation; the stored one must be the live one.
        fresh = await spotify_client.refresh_access_token(new_refresh)
        assert fresh.access_token


class TestRateLimits:
    async def test_a_long_retry_after_defers_only_that_user(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        early = datetime.now(UTC) - timedelta(minutes=5)
        limited = await connect_user(
            database, fake_spotify, spotify_client, encryptor, "demo", next_poll_at=early
        )
        other = await connect_user(database, fake_spotify, spotify_client, encryptor, "theo.brandt")
        fake_spotify.state.add_plays("demo", 3)
        fake_spotify.state.add_plays("theo.brandt", 4)
        fake_spotify.state.inject_failures(429, 1, retry_after_seconds=3600)
        loop = make_loop(database, spotify_client, encryptor, concurrency=1)

        await run_pass(loop)  # the earlier-due user meets the 429
        await run_pass(loop)
        assert await run_pass(loop) == 0  # the deferred user is not due again

        checkpoint = await checkpoint_of(database, limited)
        assert checkpoint.deferred_until is not None
        assert checkpoint.deferred_until > datetime.now(UTC) + timedelta(minutes=55)
        assert checkpoint.next_poll_at == checkpoint.deferred_until
        assert checkpoint.consecutive_failures == 0
        (job,) = await jobs_of(database, limited)
        assert job.status is JobStatus.FAILED
        assert job.stats is not None
        assert "deferred_until" in job.stats
        assert await play_count(database, limited) == 0
        assert await play_count(database, other) == 4

    async def test_spotify_unavailable_fails_the_job_and_backs_off(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(database, fake_spotify, spotify_client, encryptor)
        fake_spotify.state.inject_failures(503, None)

        await run_pass(make_loop(database, spotify_client, encryptor))

        (job,) = await jobs_of(database, user_id)
        assert job.status is JobStatus.FAILED
        assert job.error_message is not None
        assert "503" in job.error_message
        checkpoint = await checkpoint_of(database, user_id)
        assert checkpoint.consecutive_failures == 1
        assert checkpoint.last_error is not None
        assert checkpoint.next_poll_at is not None
        assert checkpoint.next_poll_at > datetime.now(UTC) + INTERVAL


class TestJobTracker:
    async def test_a_failure_record_survives_the_rollback_of_the_work(
        self,
        fresh_database: FreshDatabase,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        async with database.session(write=True) as session:
            user = await create_user(session)
            await create_job_run(session, user_id=user.id)
            user_id = user.id
        loop = CollectorRunLoop(
            database,
            spotify_client,  # not called: the work below is local
            encryptor,
            RunLoopOptions(interval=INTERVAL),
            collector_id="test-collector",
        )
        async with database.session(write=True) as session:
            (job,) = await loop.claimer.claim(session, 1)

        async def fetch() -> list[NormalizedPlay]:
            return [_play(user_id, second) for second in range(3)]

        async def store(session: AsyncSession, plays: list[NormalizedPlay]) -> JobOutcome:
            result = await PlayWriter().write(session, plays)
            assert result.inserted == 3
            raise RuntimeError("the disk caught fire after the plays were written")

        assert await loop.tracker.run(job, fetch=fetch, store=store) is None

        assert await play_count(database, user_id) == 0
        (row,) = await jobs_of(database, user_id)
        assert row.status is JobStatus.FAILED
        assert (
            row.error_message == "RuntimeError: the disk caught fire after the plays were written"
        )
        assert row.finished_at is not None

    async def test_collector_logs_reach_the_logs_table_with_the_job_id(
        self,
        fresh_database: FreshDatabase,
        fake_spotify: FakeSpotifyServer,
        spotify_client: SpotifyClient,
        encryptor: TokenEncryptor,
    ) -> None:
        database = await fresh_database()
        user_id = await connect_user(database, fake_spotify, spotify_client, encryptor)
        fake_spotify.state.add_plays("demo", 1)
        handler = DBLogHandler(database, service="collector", flush_interval_ms=50)
        root = logging.getLogger()
        previous_level = root.level
        root.setLevel(logging.INFO)
        root.addHandler(handler)
        await handler.start()
        try:
            await run_pass(make_loop(database, spotify_client, encryptor))
        finally:
            await handler.stop()
            root.removeHandler(handler)
            root.setLevel(previous_level)

        (job,) = await jobs_of(database, user_id)
        async with database.session() as session:
            entries = list(
                await session.scalars(select(LogEntry).where(LogEntry.job_run_id == job.id))
            )
        assert entries
        assert {entry.service for entry in entries} == {"collector"}
        assert {entry.user_id for entry in entries} == {user_id}


def _play(user_id: int, second: int) -> NormalizedPlay:
    return NormalizedPlay(
        user_id=user_id,
        source=PlaySource.API,
        item_kind=ItemKind.TRACK,
        track_id="4uLU6hMCjMI75M1A2tKUQC",
        track_name="A track",
        played_at=datetime(2026, 1, 1, 12, 0, second, tzinfo=UTC),
        ms_played=1000,
        artist_ids=("0OdUWJ0sBjDrqHygGUXeCF",),
        artist_names=("An artist",),
    )
