"""The answer cache: the same question reuses its answer, never across a change of plays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import BaseModel, SecretStr
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.history.answers import AnswerCache, answer_cache
from app.history.schemas import PlayFilter
from app.history.service import HistoryService
from app.settings import AppSettings
from shared.db.models import Play, Track, User
from testkit.factories import create_artist, create_play, create_track, create_user

from .conftest import utc

NOW = utc("2024-06-30 12:00")
TTL = 30.0


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Answer(BaseModel):
    """A stand-in answer."""

    text: str
    at: datetime


def _answer(text: str) -> Answer:
    return Answer(text=text, at=utc("2024-06-30 12:00"))


class TestAnswerCache:
    def test_an_answer_comes_back_equal_until_it_expires(self) -> None:
        clock = FakeClock()
        cache = AnswerCache(seconds=TTL, clock=clock)
        cache.put("q", _answer("answer"))
        clock.now += TTL - 0.1
        assert cache.get("q", Answer) == _answer("answer")
        clock.now += 0.1
        assert cache.get("q", Answer) is None
        assert (len(cache), cache.size_bytes) == (0, 0)

    def test_the_least_recently_used_answer_goes_first(self) -> None:
        cache = AnswerCache(seconds=TTL, entries=2)
        cache.put("a", _answer("1"))
        cache.put("b", _answer("2"))
        assert cache.get("a", Answer) is not None  # b is now the least recently used
        cache.put("c", _answer("3"))
        assert cache.get("b", Answer) is None
        assert [cache.get(k, Answer) for k in "ac"] == [_answer("1"), _answer("3")]

    def test_the_bytes_held_stay_within_the_budget(self) -> None:
        size = len(_answer("x" * 100).model_dump_json())
        cache = AnswerCache(seconds=TTL, max_bytes=3 * size)
        for n in range(10):
            cache.put(n, _answer(str(n) * 100))
        assert cache.size_bytes == 3 * size
        assert [n for n in range(10) if cache.get(n, Answer) is not None] == [7, 8, 9]
        cache.put("too big", _answer("x" * 4 * size))
        assert cache.get("too big", Answer) is None
        assert len(cache) == 3

    def test_storing_a_key_again_replaces_it(self) -> None:
        cache = AnswerCache(seconds=TTL)
        cache.put("q", _answer("old"))
        cache.put("q", _answer("new"))
        assert cache.get("q", Answer) == _answer("new")
        assert cache.size_bytes == len(_answer("new").model_dump_json())

    @pytest.mark.parametrize(
        ("seconds", "entries", "max_bytes"), [(0, 10, 10), (-1, 10, 10), (10, 0, 10), (10, 10, 0)]
    )
    def test_a_cache_needs_a_lifetime_and_a_size(
        self, seconds: float, entries: int, max_bytes: int
    ) -> None:
        with pytest.raises(ValueError, match="positive"):
            AnswerCache(seconds=seconds, entries=entries, max_bytes=max_bytes)

    @pytest.mark.parametrize(("seconds", "on"), [(0, False), (30, True)])
    def test_the_setting_turns_it_on_and_off(self, seconds: float, on: bool) -> None:
        settings = AppSettings(
            _env_file=None,
            token_encryption_keys=SecretStr(Fernet.generate_key().decode()),
            history_cache_seconds=seconds,
        )
        assert (answer_cache(settings) is not None) is on


async def _listener(session: AsyncSession, name: str = "Song") -> tuple[User, Track]:
    user = await create_user(session, timezone="Europe/Stockholm")
    artist = await create_artist(session, name="Band")
    track = await create_track(session, name=name, artists=[artist])
    for hour in range(10, 13):
        await create_play(session, user=user, track=track, played_at=utc(f"2024-06-01 {hour}:00"))
    return user, track


class TestCachedAnswers:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def service(self, clock: FakeClock) -> HistoryService:
        return HistoryService(clock=lambda: NOW, cache=AnswerCache(seconds=TTL, clock=clock))

    async def test_the_same_question_reuses_the_answer_until_it_expires(
        self, db_session: AsyncSession, service: HistoryService, clock: FakeClock
    ) -> None:
        user, track = await _listener(db_session, name="Old Name")
        first = await service.top_tracks(db_session, user.id, PlayFilter())
        # A catalogue change is no change of plays: the stored answer is reused...
        await db_session.execute(update(Track).where(Track.id == track.id).values(name="New"))
        again = await service.top_tracks(db_session, user.id, PlayFilter())
        assert again == first
        assert [t.name for t in again.tracks] == ["Old Name"]
        # ... for at most the cache's lifetime.
        clock.now += TTL
        later = await service.top_tracks(db_session, user.id, PlayFilter())
        assert [t.name for t in later.tracks] == ["New"]

    async def test_a_new_play_gives_a_fresh_answer_at_once(
        self, db_session: AsyncSession, service: HistoryService
    ) -> None:
        user, track = await _listener(db_session)
        before = await service.top_tracks(db_session, user.id, PlayFilter())
        await create_play(db_session, user=user, track=track, played_at=utc("2024-06-02 10:00"))
        after = await service.top_tracks(db_session, user.id, PlayFilter())
        assert [t.plays for t in before.tracks] == [3]
        assert [t.plays for t in after.tracks] == [4]

    async def test_a_deleted_play_gives_a_fresh_answer_at_once(
        self, db_session: AsyncSession, service: HistoryService
    ) -> None:
        user, track = await _listener(db_session)
        await create_play(db_session, user=user, track=track, played_at=utc("2024-06-02 10:00"))
        before = await service.top_tracks(db_session, user.id, PlayFilter())
        # Not the newest play: the newest id stays the same.
        await db_session.execute(delete(Play).where(Play.played_at == utc("2024-06-01 10:00")))
        await db_session.flush()
        after = await service.top_tracks(db_session, user.id, PlayFilter())
        assert [t.plays for t in before.tracks] == [4]
        assert [t.plays for t in after.tracks] == [3]

    async def test_other_users_windows_zones_and_arguments_have_their_own_answers(
        self, db_session: AsyncSession, service: HistoryService
    ) -> None:
        one, _ = await _listener(db_session)
        once = await create_track(db_session)
        await create_play(db_session, user=one, track=once, played_at=utc("2024-06-01 09:00"))
        other = await create_user(db_session)
        mine = await service.top_tracks(db_session, one.id, PlayFilter())
        theirs = await service.top_tracks(db_session, other.id, PlayFilter())
        assert [t.plays for t in mine.tracks] == [3, 1]
        assert theirs.tracks == []
        start = utc("2024-06-01 10:30")
        windowed = await service.top_tracks(db_session, one.id, PlayFilter(start=start))
        assert [t.plays for t in windowed.tracks] == [2]
        # 10:00 UTC is noon in Stockholm and 06:00 in New York: the peak hour follows the zone.
        here = await service.heatmap(db_session, one.id, PlayFilter())
        there = await service.heatmap(db_session, one.id, PlayFilter(tz="America/New_York"))
        assert here.window.timezone == "Europe/Stockholm"
        assert there.window.timezone == "America/New_York"
        assert here.peak is not None
        assert there.peak is not None
        assert here.peak.hour - there.peak.hour == 6
        one_listed = await service.top_tracks(db_session, one.id, PlayFilter(), limit=1)
        assert [t.plays for t in one_listed.tracks] == [3]

    async def test_every_answer_comes_back_from_the_cache_as_it_was_computed(
        self, db_session: AsyncSession, service: HistoryService
    ) -> None:
        user, track = await _listener(db_session)
        await create_play(db_session, user=user, track=track, played_at=utc("2024-05-01 10:00"))
        since = PlayFilter(start=date(2024, 5, 15))
        questions: list[Callable[[], Awaitable[BaseModel]]] = [
            lambda: service.top_artists(db_session, user.id, PlayFilter()),
            lambda: service.top_tracks(db_session, user.id, PlayFilter()),
            lambda: service.heatmap(db_session, user.id, PlayFilter()),
            lambda: service.repeat_rate(db_session, user.id, PlayFilter()),
            lambda: service.coverage(db_session, user.id, PlayFilter()),
            lambda: service.taste_summary(db_session, user.id, PlayFilter()),
            lambda: service.first_listen(db_session, user.id, PlayFilter(), artist="Band"),
            lambda: service.discoveries(db_session, user.id, since),
            lambda: service.compare_periods(db_session, user.id, since),
            lambda: service.listening_time(db_session, user.id, PlayFilter()),
        ]
        for ask in questions:
            computed = await ask()
            cached = await ask()
            assert cached == computed
            assert cached is not computed

    async def test_a_changed_stored_time_zone_gives_a_fresh_answer(
        self, db_session: AsyncSession, service: HistoryService
    ) -> None:
        user, _ = await _listener(db_session)
        before = await service.heatmap(db_session, user.id, PlayFilter())
        await db_session.execute(
            update(User).where(User.id == user.id).values(timezone="America/New_York")
        )
        after = await service.heatmap(db_session, user.id, PlayFilter())
        assert (before.window.timezone, after.window.timezone) == (
            "Europe/Stockholm",
            "America/New_York",
        )

    async def test_an_answer_about_the_last_days_is_reused_while_fresh_and_states_its_window(
        self, db_session: AsyncSession, clock: FakeClock
    ) -> None:
        user, _ = await _listener(db_session)
        started = clock.now
        # One clock for both: the service's now moves with the cache's.
        at = utc("2024-06-01 12:30")
        service = HistoryService(
            clock=lambda: at + timedelta(seconds=clock.now - started),
            cache=AnswerCache(seconds=TTL, clock=clock),
        )
        first = await service.top_tracks(db_session, user.id, PlayFilter(days=1))
        assert [t.plays for t in first.tracks] == [3]
        assert first.window.start == at - timedelta(days=1)
        # Within the lifetime, with no play since, the same answer about the window it states.
        clock.now += TTL - 1
        again = await service.top_tracks(db_session, user.id, PlayFilter(days=1))
        assert again == first
        # Past it, the window is resolved again: days later it starts after every play.
        clock.now += 4 * 86_400
        later = await service.top_tracks(db_session, user.id, PlayFilter(days=1))
        assert later.tracks == []
        assert later.window.start == first.window.start + timedelta(seconds=clock.now - started)
        # A window of another length is another question.
        week = await service.top_tracks(db_session, user.id, PlayFilter(days=7))
        assert [t.plays for t in week.tracks] == [3]

    async def test_a_new_play_refreshes_an_answer_about_the_last_days(
        self, db_session: AsyncSession, clock: FakeClock
    ) -> None:
        user, track = await _listener(db_session)
        at = utc("2024-06-01 12:30")
        service = HistoryService(clock=lambda: at, cache=AnswerCache(seconds=TTL, clock=clock))
        first = await service.top_tracks(db_session, user.id, PlayFilter(days=1))
        await create_play(db_session, user=user, track=track, played_at=utc("2024-06-01 12:20"))
        again = await service.top_tracks(db_session, user.id, PlayFilter(days=1))
        assert ([t.plays for t in first.tracks], [t.plays for t in again.tracks]) == ([3], [4])

    async def test_compare_periods_keys_the_stretch_before_apart_from_the_same_window(
        self, db_session: AsyncSession, service: HistoryService
    ) -> None:
        user, _ = await _listener(db_session)
        # B left out: the 60 days before A; B given as days=60: the same 60 days as A.
        before = await service.compare_periods(db_session, user.id, PlayFilter(days=60))
        same = await service.compare_periods(
            db_session, user.id, PlayFilter(days=60), PlayFilter(days=60)
        )
        assert (before.period_a.plays, before.period_b.plays) == (3, 0)
        assert (same.period_a.plays, same.period_b.plays) == (3, 3)
