"""Two collectors sharing one PostgreSQL database never run a job twice or a user at once."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collector.claims import ClaimedJob
from collector.job_tracker import FailureHook, JobOutcome, JobTracker
from collector.run_loop import CollectorRunLoop, RunLoopOptions
from fake_spotify import FakeSpotifyServer
from shared.crypto import TokenEncryptor
from shared.db.enums import InitialSyncStatus, JobStatus
from shared.db.manager import DatabaseManager
from shared.db.models import JobRun, Play
from shared.spotify import SpotifyClient
from testkit.factories import create_checkpoint, create_job_run, create_spotify_token, create_user
from testkit.plugin import FreshDatabase
from testkit.spotify import spotify_client_config

FetchedT = TypeVar("FetchedT")

# Two minutes of fast cycles: at a 1 s interval each of the 50 users is claimed about once a
# second by one of the two collectors, some 6,000 claims racing in all.
CONCURRENCY_TEST_SECONDS = 120
USERS = 50


class RecordingJobTracker(JobTracker):
    """Notes when each job ran, on which collector, for which user."""

    def __init__(self, database: DatabaseManager, runs: list[tuple[Any, ...]]) -> None:
        super().__init__(database)
        self._runs = runs

    async def run(
        self,
        job: ClaimedJob,
        *,
        fetch: Callable[[], Awaitable[FetchedT]],
        store: Callable[[AsyncSession, FetchedT], Awaitable[JobOutcome]],
        on_failure: FailureHook | None = None,
        failure_stats: Callable[[BaseException], dict[str, Any] | None] | None = None,
    ) -> JobOutcome | None:
        started = asyncio.get_running_loop().time()
        try:
            return await super().run(
                job, fetch=fetch, store=store, on_failure=on_failure, failure_stats=failure_stats
            )
        finally:
            ended = asyncio.get_running_loop().time()
            self._runs.append((job.job_run_id, job.user_id, job.claimed_by, started, ended))


@pytest.mark.postgres_only
class TestTwoCollectors:
    async def test_no_job_twice_no_user_at_once_no_play_duplicated(
        self, dialect: str, fresh_database: FreshDatabase, fake_spotify: FakeSpotifyServer
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("SQLite runs a single collector")
        first = await fresh_database()
        second = DatabaseManager(first.url)  # another process's engine and pool
        state = fake_spotify.state
        state.switches.development_mode = False  # 50 users: beyond a Dev-Mode allowlist
        encryptor = TokenEncryptor([TokenEncryptor.generate_key()])
        names = [f"load-{n:02d}" for n in range(USERS)]
        async with first.session(write=True) as session:
            for n, name in enumerate(names):
                state.add_user(name, f"Load {n}")
                grant = state.issue_tokens(name)
                assert grant.refresh_token is not None
                user = await create_user(session, spotify_user_id=name)
                await create_spotify_token(
                    session,
                    user=user,
                    access_token_encrypted=encryptor.encrypt(grant.access_token),
                    refresh_token_encrypted=encryptor.encrypt(grant.refresh_token),
                )
                await create_checkpoint(
                    session,
                    user=user,
                    initial_sync_status=InitialSyncStatus.PENDING,
                    next_poll_at=datetime.now(UTC),
                )
                if n % 5 == 0:  # manual trigger-syncs queued by the API race the schedule
                    await create_job_run(session, user_id=user.id)
        for name in names:
            state.add_plays(name, 3)

        runs: list[tuple[Any, ...]] = []
        options = RunLoopOptions(
            interval=timedelta(seconds=1), concurrency=4, heartbeat_seconds=0.5, tick_seconds=0.2
        )
        stop = asyncio.Event()
        async with (
            SpotifyClient(spotify_client_config(fake_spotify)) as client_a,
            SpotifyClient(spotify_client_config(fake_spotify)) as client_b,
        ):
            loops = [
                CollectorRunLoop(first, client_a, encryptor, options, collector_id="collector-a"),
                CollectorRunLoop(second, client_b, encryptor, options, collector_id="collector-b"),
            ]
            for loop, database in zip(loops, (first, second), strict=True):
                loop.tracker = RecordingJobTracker(database, runs)
            running = [asyncio.create_task(loop.run(stop)) for loop in loops]
            rng = random.Random(7)
            deadline = asyncio.get_running_loop().time() + CONCURRENCY_TEST_SECONDS
            while asyncio.get_running_loop().time() < deadline:
                state.add_plays(rng.choice(names), rng.randint(1, 3))
                await asyncio.sleep(0.05)
            await asyncio.sleep(3)  # let every user be polled once more after the last play
            stop.set()
            await asyncio.wait_for(asyncio.gather(*running), timeout=15)
        await second.dispose()

        # No job ran twice: each job run was executed once, by the collector that claimed it.
        job_ids = [run[0] for run in runs]
        assert len(job_ids) == len(set(job_ids))
        assert len(runs) > USERS * 5
        assert {run[2] for run in runs} == {"collector-a", "collector-b"}
        async with first.session() as session:
            jobs = list(await session.scalars(select(JobRun)))
            stored = await session.execute(
                select(Play.user_id, func.count()).group_by(Play.user_id)
            )
            per_user = {row[0]: row[1] for row in stored.all()}
        by_id = {job.id: job for job in jobs}
        for job_id, _user, collector, *_ in runs:
            assert by_id[job_id].claimed_by == collector
            assert by_id[job_id].attempts == 1
        assert all(job.status is not JobStatus.RUNNING for job in jobs)

        # No user was worked on by both collectors at once.
        intervals: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for _job, user_id, _collector, started, ended in runs:
            intervals[user_id].append((started, ended))
        for spans in intervals.values():
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                assert start >= end

        # Every play Spotify served is stored exactly once.
        succeeded = [job for job in jobs if job.status is JobStatus.SUCCEEDED]
        assert sum(job.records_inserted for job in succeeded) == sum(per_user.values())
        async with first.session() as session:
            distinct = await session.execute(
                select(
                    Play.user_id,
                    func.count(func.distinct(func.concat(Play.played_at, Play.track_id))),
                ).group_by(Play.user_id)
            )
            users = {row[0]: row[1] for row in distinct.all()}
        assert users == per_user
        # Plays are one per (user, second, track) by design: the fake squeezes bursts of
        # plays milliseconds apart, which the dedup rule rightly folds together.
        total_served = sum(
            len({(p.played_at.replace(microsecond=0), p.track_id) for p in state.user(n).plays})
            for n in names
        )
        assert sum(per_user.values()) == total_served
