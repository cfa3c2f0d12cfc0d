"""The listening summaries give the same answers as the plays, on both databases, whatever
the window, zone or kinds, while new plays arrive unfolded, and after plays are deleted."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.history import summaries as summaries_module
from app.history import summary_queries
from app.history.schemas import PlayFilter
from app.history.service import HistoryService
from app.history.summaries import ListeningSummaries
from shared.db.manager import DatabaseManager
from shared.db.migrate import MigrationRunner
from shared.db.models import (
    ListeningArtist,
    ListeningArtistMonth,
    ListeningArtistSpan,
    ListeningDay,
    ListeningLinkCount,
    ListeningSummaryRebuild,
    ListeningSummaryState,
    ListeningTrack,
    ListeningTrackMonth,
    ListeningTrackSpan,
    Play,
    Track,
    User,
)
from testkit.factories import create_artist, create_play, create_track, create_user
from testkit.plugin import FreshDatabase

from .conftest import utc
from .histories import NOW, START, WINDOWS, RandomHistory, every_answer


def _services(summaries: ListeningSummaries | None = None) -> tuple[HistoryService, HistoryService]:
    """(from the plays, from the summaries), both at NOW."""
    raw = HistoryService(clock=lambda: NOW, use_summaries=False)
    summarized = HistoryService(clock=lambda: NOW, summaries=summaries or ListeningSummaries())
    return raw, summarized


async def _state(session: AsyncSession) -> tuple[int, int]:
    row = (
        await session.execute(
            select(ListeningSummaryState.rolled_up_to, ListeningSummaryState.version)
        )
    ).one()
    return int(row[0]), int(row[1])


async def _summary_rows(session: AsyncSession, user_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every summary row of a user, as sorted plain tuples."""
    tables: dict[str, Any] = {
        "days": ListeningDay,
        "tracks": ListeningTrack,
        "artists": ListeningArtist,
        "track_months": ListeningTrackMonth,
        "artist_months": ListeningArtistMonth,
        "track_spans": ListeningTrackSpan,
        "artist_spans": ListeningArtistSpan,
        "link_counts": ListeningLinkCount,
    }
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for name, model in tables.items():
        columns = list(model.__table__.columns)
        result = await session.execute(select(*columns).where(model.user_id == user_id))
        rows[name] = sorted(tuple(str(v) for v in row) for row in result.all())
    return rows


def _window_id(window: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in window.items()) or "all"


class TestSameAnswers:
    @pytest.mark.parametrize(
        "window", WINDOWS, ids=lambda w: ",".join(f"{k}={v}" for k, v in w.items()) or "all"
    )
    async def test_every_answer_from_the_summaries_equals_the_one_from_the_plays(
        self, db_session: AsyncSession, window: dict[str, Any]
    ) -> None:
        history = await RandomHistory(seed=len(str(window))).create(db_session)
        assert history.user is not None
        raw, summarized = _services()

        expected = await every_answer(raw, db_session, history.user.id, window)
        actual = await every_answer(summarized, db_session, history.user.id, window)

        assert actual == expected
        assert (await _state(db_session))[0] > 0  # the summaries did answer
        assert expected["top_tracks"]["tracks"], "the window should hold plays"

    async def test_thresholds_other_than_thirty_seconds_read_the_plays(
        self, db_session: AsyncSession
    ) -> None:
        history = await RandomHistory(seed=3).create(db_session)
        assert history.user is not None
        raw, summarized = _services()
        window = {"start": "2024-02-01", "min_ms": 0}

        assert await every_answer(summarized, db_session, history.user.id, window) == (
            await every_answer(raw, db_session, history.user.id, window)
        )
        assert await _state(db_session) == (0, 0)  # nothing was folded for it

    async def test_comparing_with_the_stretch_right_before(self, db_session: AsyncSession) -> None:
        history = await RandomHistory(seed=4).create(db_session)
        assert history.user is not None
        raw, summarized = _services()
        for period in (
            PlayFilter(days=90),
            PlayFilter(start=utc("2024-04-05 13:00")),
            # 2023's December, 2024 less its last two months, and November's edge raw.
            PlayFilter(start=utc("2023-12-01"), end=utc("2024-11-20 08:00")),
        ):
            expected = await raw.compare_periods(db_session, history.user.id, period)
            actual = await summarized.compare_periods(db_session, history.user.id, period)
            assert actual == expected


class TestNewPlays:
    async def test_unfolded_plays_are_read_from_the_plays(self, db_session: AsyncSession) -> None:
        history = await RandomHistory(seed=5).create(db_session)
        assert history.user is not None
        await ListeningSummaries().refresh(db_session)
        # New plays with higher ids: recent ones, old ones from a late import, new tracks
        # by a new artist, and one in the same second as a folded play.
        newcomer = await create_artist(db_session, name="Newcomer")
        fresh = await create_track(db_session, name="Fresh", artists=[newcomer])
        history.tracks.append(fresh)
        await history.add_plays(db_session, 40, utc("2024-12-20 00:00"), NOW)
        await history.add_plays(db_session, 40, START, utc("2024-02-01 00:00"))
        await create_play(db_session, user=history.user, track=fresh, played_at=START)
        raw, summarized = _services(ListeningSummaries(fold_on_read=False))

        for window in WINDOWS[:10]:
            assert await every_answer(summarized, db_session, history.user.id, window) == (
                await every_answer(raw, db_session, history.user.id, window)
            ), window
        rolled_up_to, _ = await _state(db_session)
        newest = (await db_session.execute(select(func.max(Play.id)))).scalar_one()
        assert rolled_up_to < newest  # the answers above did not fold them

    async def test_folding_in_steps_equals_folding_at_once(self, db_session: AsyncSession) -> None:
        history = await RandomHistory(seed=6).create(db_session, plays=150)
        assert history.user is not None
        summaries = ListeningSummaries()
        await summaries.refresh(db_session)
        await history.add_plays(db_session, 60, START, NOW)
        await summaries.refresh(db_session)
        await history.add_plays(db_session, 60, utc("2024-06-01 00:00"), utc("2024-06-03 00:00"))
        await summaries.refresh(db_session)
        in_steps = await _summary_rows(db_session, history.user.id)
        assert len({row[1] for row in in_steps["artist_spans"]}) == 2  # quarters and years

        db_session.add(ListeningSummaryRebuild(user_id=history.user.id))
        await db_session.flush()
        await summaries.refresh(db_session)

        assert await _summary_rows(db_session, history.user.id) == in_steps
        assert in_steps["days"]

    async def test_the_fold_of_a_question_advances_the_watermark_once(
        self, db_session: AsyncSession
    ) -> None:
        history = await RandomHistory(seed=7).create(db_session, plays=50)
        assert history.user is not None
        _, summarized = _services()

        await summarized.top_tracks(db_session, history.user.id, PlayFilter())
        first = await _state(db_session)
        await summarized.heatmap(db_session, history.user.id, PlayFilter())

        newest = (await db_session.execute(select(func.max(Play.id)))).scalar_one()
        assert first[0] == newest
        assert await _state(db_session) == first  # nothing new: no fold


class TestDeletedPlays:
    async def test_deleting_folded_plays_rebuilds_the_users_summaries(
        self, db_session: AsyncSession
    ) -> None:
        history = await RandomHistory(seed=8).create(db_session)
        assert history.user is not None
        await ListeningSummaries().refresh(db_session)
        # As when an import is deleted: its plays go, whatever they were.
        doomed = (
            select(Play.id)
            .where(Play.user_id == history.user.id, Play.played_at < utc("2024-05-01 00:00"))
            .scalar_subquery()
        )
        await db_session.execute(delete(Play).where(Play.id.in_(doomed)))
        marked = (await db_session.execute(select(ListeningSummaryRebuild.user_id))).scalars()
        assert list(marked) == [history.user.id]
        raw, summarized = _services()

        for window in WINDOWS[:6]:
            assert await every_answer(summarized, db_session, history.user.id, window) == (
                await every_answer(raw, db_session, history.user.id, window)
            ), window
        assert (await db_session.execute(select(ListeningSummaryRebuild))).first() is None

    async def test_a_user_awaiting_a_rebuild_is_answered_from_the_plays(
        self, db_session: AsyncSession
    ) -> None:
        history = await RandomHistory(seed=9).create(db_session, plays=120)
        assert history.user is not None
        await ListeningSummaries().refresh(db_session)
        await db_session.execute(
            delete(Play).where(Play.user_id == history.user.id, Play.ms_played > 200_000)
        )
        raw, summarized = _services(ListeningSummaries(fold_on_read=False))

        assert await every_answer(summarized, db_session, history.user.id, {}) == (
            await every_answer(raw, db_session, history.user.id, {})
        )

    async def test_deleting_unfolded_plays_marks_nothing(self, db_session: AsyncSession) -> None:
        history = await RandomHistory(seed=10).create(db_session, plays=30)
        assert history.user is not None
        await ListeningSummaries().refresh(db_session)
        late = await history.add_plays(db_session, 5, START, NOW)

        await db_session.execute(delete(Play).where(Play.id.in_([p.id for p in late])))

        assert (await db_session.execute(select(ListeningSummaryRebuild))).first() is None

    async def test_changing_a_folded_play_rebuilds_its_user(self, db_session: AsyncSession) -> None:
        history = await RandomHistory(seed=11).create(db_session, plays=60)
        assert history.user is not None
        await ListeningSummaries().refresh(db_session)
        play = (
            await db_session.execute(select(Play).where(Play.user_id == history.user.id).limit(1))
        ).scalar_one()
        play.ms_played = 29_000 if play.ms_played >= 30_000 else 31_000
        await db_session.flush()
        raw, summarized = _services()

        assert await every_answer(summarized, db_session, history.user.id, {}) == (
            await every_answer(raw, db_session, history.user.id, {})
        )

    async def test_new_plays_after_the_newest_user_is_deleted_are_counted(
        self, db_session: AsyncSession
    ) -> None:
        # SQLite hands out the ids of deleted newest rows again; the watermark must follow.
        kept = await RandomHistory(seed=12).create(db_session, plays=80)
        gone = await RandomHistory(seed=13).create(db_session, plays=80)
        assert kept.user is not None
        assert gone.user is not None
        await ListeningSummaries().refresh(db_session)
        await db_session.execute(delete(Play).where(Play.user_id == gone.user.id))
        await db_session.execute(delete(User).where(User.id == gone.user.id))
        db_session.expunge_all()
        await kept.add_plays(db_session, 30, START, NOW)
        raw, summarized = _services()

        for window in ({}, {"days": 90}):
            assert await every_answer(summarized, db_session, kept.user.id, window) == (
                await every_answer(raw, db_session, kept.user.id, window)
            )


class TestOtherUsers:
    async def test_another_users_plays_never_count(self, db_session: AsyncSession) -> None:
        mine = await RandomHistory(seed=14).create(db_session, plays=100)
        theirs = await RandomHistory(seed=15).create(db_session, plays=100)
        assert mine.user is not None
        assert theirs.user is not None
        lonely = await create_user(db_session)
        raw, summarized = _services()

        for user_id in (mine.user.id, theirs.user.id, lonely.id):
            assert await every_answer(summarized, db_session, user_id, {"days": 365}) == (
                await every_answer(raw, db_session, user_id, {"days": 365})
            )


class TestLargestGaps:
    async def test_a_pair_of_days_closer_together_can_hold_the_longer_gap(
        self, db_session: AsyncSession
    ) -> None:
        # Days 1 and 2 (one apart) hold a gap of nearly 48 hours, days 2 and 4 (two apart)
        # one of barely 24, day 4 one of 23 hours inside it, days 4 and 5 one of 25. The
        # list must weigh each pair by its seconds, not by how many days lie between.
        user = await create_user(db_session, timezone="UTC")
        track = await create_track(db_session, artists=[await create_artist(db_session)])
        moments = [
            "2024-03-01 00:00:10",
            "2024-03-02 23:59:50",
            "2024-03-04 00:00:10",
            "2024-03-04 23:00:10",
            "2024-03-05 23:59:00",
        ]
        for moment in moments:
            await create_play(db_session, user=user, track=track, played_at=utc(moment))
        raw, summarized = _services()
        for gaps in range(1, 6):
            expected = await raw.coverage(db_session, user.id, PlayFilter(), gaps=gaps)
            actual = await summarized.coverage(db_session, user.id, PlayFilter(), gaps=gaps)
            assert actual.largest_gaps == expected.largest_gaps, gaps
        longest = await summarized.coverage(db_session, user.id, PlayFilter(), gaps=1)
        assert [g.hours for g in longest.largest_gaps] == [48.0]
        every = await summarized.coverage(db_session, user.id, PlayFilter(), gaps=5)
        assert [g.hours for g in every.largest_gaps] == [48.0, 25.0, 24.0, 23.0]
        assert (await _state(db_session))[0] > 0  # the summaries did answer


class TestEitherWay:
    """Sums over spans and the spans' top lists give the same answers, whichever the window's
    size picks."""

    @pytest.mark.parametrize("rows", [0.0, 1_000.0], ids=["top-list-bounds", "spans-summed"])
    @pytest.mark.parametrize(
        "window",
        [{"days": 365}, {"start": "2023-12-01", "end": "2024-11-20T08:00:00Z"}, {"days": 200}],
        ids=_window_id,
    )
    async def test_every_answer_equals_the_one_from_the_plays(
        self,
        db_session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
        rows: float,
        window: dict[str, Any],
    ) -> None:
        monkeypatch.setattr(summary_queries, "_SUM_ALL_ROWS", {"artist": rows, "track": rows})
        monkeypatch.setattr(summary_queries, "_COMPARE_ALL_ROWS", rows)
        history = await RandomHistory(seed=21).create(db_session)
        assert history.user is not None
        raw, summarized = _services()

        expected = await every_answer(raw, db_session, history.user.id, window)
        assert await every_answer(summarized, db_session, history.user.id, window) == expected
        assert expected["compare_periods"]["period_b"]["plays"] > 0


class TestTopLists:
    @pytest.mark.parametrize("depth", [1, 2, 3], ids=lambda depth: f"depth-{depth}")
    async def test_shallow_reads_deepen_until_the_list_is_certain(
        self, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch, depth: int
    ) -> None:
        # Heads this shallow settle few lists at once: most answers take several rounds (a
        # comparison, which reads its lists once, sums every artist when they do not settle).
        monkeypatch.setattr(summary_queries, "_HEAD_DEPTH", depth)
        monkeypatch.setattr(summary_queries, "_COMPARE_DEPTH", depth)
        monkeypatch.setattr(summary_queries, "_COMPARE_ALL_ROWS", 0.0)
        history = await RandomHistory(seed=16).create(db_session)
        assert history.user is not None
        raw, summarized = _services()
        for window in ({"days": 90}, {"start": "2024-02-10", "end": "2024-09-20"}, {"days": 365}):
            filters = PlayFilter.model_validate(window)
            for limit in (1, 3, 10):
                assert await _top_lists(
                    summarized, db_session, history.user.id, filters, limit
                ) == (await _top_lists(raw, db_session, history.user.id, filters, limit)), (
                    window,
                    limit,
                )


async def _top_lists(
    service: HistoryService,
    session: AsyncSession,
    user_id: int,
    filters: PlayFilter,
    limit: int,
) -> list[Any]:
    """Every answer made of a top list."""
    return [
        await service.top_tracks(session, user_id, filters, limit=limit),
        await service.top_artists(session, user_id, filters, limit=limit),
        await service.top_artists(session, user_id, filters, limit=limit, primary_only=True),
        await service.repeat_rate(session, user_id, filters, limit=limit),
        await service.compare_periods(session, user_id, filters, limit=limit),
        await service.compare_periods(
            session, user_id, PlayFilter(end=NOW - timedelta(days=30)), filters, limit=limit
        ),
        # The whole history against the window: its risers from the all-time order.
        await service.compare_periods(session, user_id, PlayFilter(), filters, limit=limit),
    ]


async def _three_plays(database: DatabaseManager) -> tuple[User, Track]:
    """A user who played one track on 1, 2 and 3 May 2024, committed."""
    async with database.session(write=True) as session:
        user = await create_user(session)
        track = await create_track(session)
        for day in range(1, 4):
            await create_play(
                session, user=user, track=track, played_at=utc(f"2024-05-0{day} 12:00")
            )
    return user, track


class TestLinkCountsMigration:
    async def test_the_migration_counts_the_links_the_fold_counts(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        async with database.session(write=True) as session:
            history = await RandomHistory(seed=8).create(session)
            await ListeningSummaries().refresh(session)
        assert history.user is not None
        folded = await _link_counts(database)
        # Migration 0007 on a database whose month rows were folded before it existed.
        runner = MigrationRunner(database)
        await runner.downgrade("0006")
        await runner.upgrade()

        assert await _link_counts(database) == folded
        assert {row[3] for row in folded} == {1, 3, 12}
        assert {row[1] for row in folded} == {"track", "artist"}


async def _link_counts(database: DatabaseManager) -> list[tuple[Any, ...]]:
    async with database.session() as session:
        rows = await session.execute(select(*ListeningLinkCount.__table__.columns))
        return sorted(tuple(row) for row in rows.all())


class TestBusyPool:
    async def test_a_question_holding_the_last_connection_answers_without_the_fold(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        user, _track = await _three_plays(database)
        service = HistoryService()
        answers, folded = [], []
        # A server whose every connection is held by questions waiting for the fold: the
        # fold needs one more. It is left for later instead of waiting for the pool's timeout.
        for connections in (1, 2):
            server = DatabaseManager(
                database.url, pool_size=connections, max_overflow=0, pool_sqlite=True
            )
            try:
                started = time.perf_counter()
                async with server.session() as session:
                    answer = await service.top_tracks(session, user.id, PlayFilter())
                answers.append(([t.plays for t in answer.tracks], time.perf_counter() - started))
                async with server.session() as session:
                    folded.append((await _state(session))[0])
            finally:
                await server.dispose()

        assert [plays for plays, _seconds in answers] == [[3], [3]]
        assert answers[0][1] < 5  # not the pool's 30 s
        assert folded[0] == 0  # no fold with one connection...
        assert folded[1] > 0  # ... one with a second free


class TestConcurrentWriters:
    async def test_a_fold_never_passes_a_play_whose_insert_has_not_committed(
        self, fresh_database: FreshDatabase, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(summaries_module, "LOCK_TIMEOUT", "300ms")
        database = await fresh_database()
        user, track = await _three_plays(database)
        # Another process's connections, which give up quickly while a writer holds a lock.
        readers = DatabaseManager(database.url, busy_timeout_ms=300)
        service = HistoryService()
        try:
            async with database.session(write=True) as slow_writer:
                await create_play(
                    slow_writer, user=user, track=track, played_at=utc("2024-05-04 12:00")
                )
                if database.dialect == "postgresql":
                    # A later play commits first, with a higher id than the one in flight.
                    async with database.session(write=True) as quick_writer:
                        await create_play(
                            quick_writer, user=user, track=track, played_at=utc("2024-05-05 12:00")
                        )
                async with readers.session() as reader:
                    during = await service.top_tracks(reader, user.id, PlayFilter())
            async with readers.session() as reader:
                after = await service.top_tracks(reader, user.id, PlayFilter())
        finally:
            await readers.dispose()

        quick = 1 if database.dialect == "postgresql" else 0
        assert [t.plays for t in during.tracks] == [3 + quick]
        assert [t.plays for t in after.tracks] == [4 + quick]
