"""Random listening histories for comparing the answers from the summaries with the raw SQL."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.history.buckets import BucketSize
from app.history.schemas import PeriodsFilter, PlayFilter
from app.history.service import HistoryService
from shared.db.enums import PlaySource
from shared.db.models import Artist, Play, Track, User
from testkit.factories import create_artist, create_episode, create_play, create_track, create_user

START = datetime(2023, 11, 20, tzinfo=UTC)
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
JANUARY_2024 = datetime(2024, 1, 1, tzinfo=UTC)
JULY_2024 = datetime(2024, 7, 1, tzinfo=UTC)
"""The clock of the services under comparison: 'days' windows end here."""


@dataclass
class RandomHistory:
    """A user with random plays of a small catalogue, made reproducibly from a seed."""

    seed: int
    user: User | None = None
    artists: list[Artist] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    episodes: list[Track] = field(default_factory=list)

    async def create(self, session: AsyncSession, *, plays: int = 400) -> RandomHistory:
        """The user (in Stockholm), a catalogue and `plays` random plays."""
        rng = random.Random(self.seed)
        self.user = await create_user(session, timezone="Europe/Stockholm")
        self.artists = [await create_artist(session, name=f"Artist {n}") for n in range(8)]
        # Two artists share a name, as an export's artist and Spotify's own do.
        self.artists.append(await create_artist(session, name="Artist 1"))
        for n in range(24):
            credits = [rng.choice(self.artists)]
            if rng.random() < 0.25:
                credits.append(rng.choice([a for a in self.artists if a is not credits[0]]))
            self.tracks.append(await create_track(session, name=f"Song {n % 20}", artists=credits))
        self.episodes = [await create_episode(session, name=f"Episode {n}") for n in range(3)]
        await self.add_plays(session, plays, START, NOW, rng)
        # Around both 2024 DST changes in Stockholm (31 March and 27 October, 01:00 UTC).
        for change in (datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC)):
            await self.add_plays(
                session, 16, change - timedelta(hours=3), change + timedelta(hours=23), rng
            )
        return self

    async def add_plays(
        self,
        session: AsyncSession,
        count: int,
        start: datetime,
        end: datetime,
        rng: random.Random | None = None,
    ) -> list[Play]:
        """`count` random plays ending between `start` and `end` (some in the same second)."""
        assert self.user is not None
        rng = rng or random.Random(self.seed + count)
        span = (end - start).total_seconds()
        weights = [1 / (rank + 1) for rank in range(len(self.tracks))]
        made: list[Play] = []
        moments: list[datetime] = []
        taken: set[tuple[datetime, str]] = set()
        for _ in range(count):
            if moments and rng.random() < 0.05:
                moment = rng.choice(moments)  # another track ending in the same second
            else:
                moment = start + timedelta(seconds=rng.uniform(0, span))
                if rng.random() < 0.7:
                    moment = moment.replace(microsecond=0)
            moments.append(moment)
            item = (
                rng.choice(self.episodes)
                if rng.random() < 0.08
                else rng.choices(self.tracks, weights=weights)[0]
            )
            if (moment, item.id) in taken:
                continue  # one play per user, track and end time
            taken.add((moment, item.id))
            roll = rng.random()
            ms = (
                30_000
                if roll < 0.05
                else rng.randint(1_000, 29_999)
                if roll < 0.35
                else (rng.randint(30_001, 400_000))
            )
            made.append(
                await create_play(
                    session,
                    user=self.user,
                    track=item,
                    played_at=moment,
                    ms_played=ms,
                    source=rng.choice(list(PlaySource)),
                )
            )
        return made


WINDOWS: list[dict[str, Any]] = [
    {},
    {"days": 30},
    {"days": 365},
    {"start": "2024-03-10", "end": "2024-11-05"},
    {"start": "2024-06-15"},
    {"end": "2024-04-20"},
    {"start": "2024-10-27", "end": "2024-10-27"},
    {"start": "2024-01-31T13:37:00Z", "end": "2024-08-01T00:00:00Z"},
    {"start": "2024-05-03", "end": "2024-05-20"},
    {"start": "2024-02-01", "end": "2024-02-29", "tz": "UTC"},
    {"start": "2024-03-01", "end": "2024-12-31", "tz": "America/New_York"},
    {"days": 365, "tz": "Asia/Kolkata"},
    {"start": "2024-03-25", "end": "2024-04-10", "tz": "Australia/Lord_Howe"},
    {"days": 200, "include_episodes": True},
    {"include_episodes": True, "tz": "UTC"},
    {"start": "2024-09-01", "include_episodes": True, "tz": "Asia/Tokyo"},
]


async def every_answer(
    service: HistoryService, session: AsyncSession, user_id: int, window: dict[str, Any]
) -> dict[str, Any]:
    """Every history answer about one window, as JSON-ready data (failures as their class)."""
    filters = PlayFilter.model_validate(window)
    answers: dict[str, Any] = {}

    async def keep(name: str, call: Any) -> None:
        try:
            answers[name] = (await call).model_dump(mode="json")
        except Exception as exc:
            answers[name] = exc.__class__.__name__

    await keep("top_artists", service.top_artists(session, user_id, filters, limit=7))
    await keep(
        "top_artists_primary",
        service.top_artists(session, user_id, filters, limit=7, primary_only=True),
    )
    await keep("top_tracks", service.top_tracks(session, user_id, filters, limit=9))
    await keep("heatmap", service.heatmap(session, user_id, filters))
    await keep("repeat_rate", service.repeat_rate(session, user_id, filters, limit=6))
    await keep("coverage", service.coverage(session, user_id, filters, gaps=7))
    await keep("taste_summary", service.taste_summary(session, user_id, filters, limit=4))
    await keep("first_listen", service.first_listen(session, user_id, filters, artist="artist 1"))
    await keep(
        "first_listen_track", service.first_listen(session, user_id, filters, track="song 3")
    )
    await keep("discoveries", service.discoveries(session, user_id, filters, limit=8))
    for size in (BucketSize.DAY, BucketSize.WEEK, BucketSize.MONTH):
        await keep(
            f"listening_time_{size.value}",
            service.listening_time(session, user_id, filters, bucket=size),
        )
    periods = {f"a_{k}": v for k, v in window.items() if k in {"days", "start", "end"}}
    periods.update({k: v for k, v in window.items() if k in {"tz", "include_episodes", "min_ms"}})
    await keep(
        "compare_periods",
        service.compare_periods(
            session,
            user_id,
            PeriodsFilter.model_validate(periods).period_a(),
            PlayFilter(start=JANUARY_2024, end=JULY_2024, min_ms=filters.min_ms),
            limit=5,
        ),
    )
    return answers
