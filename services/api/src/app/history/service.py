"""`HistoryService`: listening statistics of one user, for the HTTP routes and the tools alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError, NotFoundError
from app.history.queries import ArtistRow, HistoryQueries, PlayScope, TrackRow
from app.history.schemas import (
    ArtistPlays,
    Coverage,
    Heatmap,
    HeatmapPeak,
    ListeningGap,
    PartOfDay,
    PlayFilter,
    PlaysBySource,
    RepeatedTrack,
    RepeatRate,
    TasteSummary,
    TopArtists,
    TopTracks,
    TrackPlays,
    WindowOut,
)
from app.history.window import InvalidTimezoneError, TimeWindow, UtcOffsets, resolve_timezone
from shared.db.base import utc_now

logger = logging.getLogger(__name__)

MAX_LIST_LENGTH = 100
"""Longest list in any answer, so every answer stays far below 100,000 characters."""
MAX_TASTE_LIST_LENGTH = 20
MAX_GAPS = 20
MAX_ARTISTS_PER_TRACK = 5

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class InvalidArgumentError(AppError):
    """An argument of a history question is out of its bounds."""

    status_code = 400
    code = "invalid_argument"


def _check_limit(name: str, value: int, maximum: int) -> None:
    if not 1 <= value <= maximum:
        raise InvalidArgumentError(f"{name} must be between 1 and {maximum}; got {value}.")


def _minutes(ms_played: int) -> float:
    return round(ms_played / 60_000, 1)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _artist_plays(rows: list[ArtistRow]) -> list[ArtistPlays]:
    return [
        ArtistPlays(
            artist_id=r.artist_id, name=r.name, plays=r.plays, minutes=_minutes(r.ms_played)
        )
        for r in rows
    ]


@dataclass(frozen=True)
class _Scoped:
    """A question's resolved window, the matching play scope, and how the answer states it."""

    window: TimeWindow
    scope: PlayScope
    out: WindowOut

    @classmethod
    def of(cls, user_id: int, filters: PlayFilter, window: TimeWindow) -> _Scoped:
        """Scope and window description of `filters` over a resolved window."""
        scope = PlayScope(
            user_id=user_id,
            start=window.start,
            end=window.end,
            min_ms=filters.min_ms,
            include_episodes=filters.include_episodes,
        )
        out = WindowOut(
            start=window.start,
            end=window.end,
            timezone=window.timezone_name,
            include_episodes=filters.include_episodes,
            min_ms=filters.min_ms,
        )
        return cls(window, scope, out)


class HistoryService:
    """Stateless listening statistics of one user: session and plain arguments in, models out."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock

    async def _resolve(self, session: AsyncSession, user_id: int, filters: PlayFilter) -> _Scoped:
        stored = await HistoryQueries.user_timezone(session, user_id)
        if stored is None:
            raise NotFoundError(f"User {user_id} does not exist.")
        tz = resolve_timezone(filters.tz) if filters.tz is not None else _stored_zone(stored)
        window = TimeWindow.resolve(
            days=filters.days, start=filters.start, end=filters.end, tz=tz, now=self._clock()
        )
        return _Scoped.of(user_id, filters, window)

    async def _track_plays(self, session: AsyncSession, rows: list[TrackRow]) -> list[TrackPlays]:
        names = await HistoryQueries.artist_names(session, [row.track_id for row in rows])
        return [
            TrackPlays(
                track_id=row.track_id,
                name=row.name,
                kind=row.kind,
                album_name=row.album_name,
                artists=names.get(row.track_id, [])[:MAX_ARTISTS_PER_TRACK],
                plays=row.plays,
                minutes=_minutes(row.ms_played),
            )
            for row in rows
        ]

    async def top_artists(
        self,
        session: AsyncSession,
        user_id: int,
        filters: PlayFilter,
        *,
        limit: int = 10,
        primary_only: bool = False,
    ) -> TopArtists:
        """The user's most played artists, crediting every artist of a track unless told not to."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        scoped = await self._resolve(session, user_id, filters)
        rows = await HistoryQueries.top_artists(
            session, scoped.scope, limit=limit, primary_only=primary_only
        )
        return TopArtists(
            user_id=user_id,
            window=scoped.out,
            primary_only=primary_only,
            artists=_artist_plays(rows),
        )

    async def top_tracks(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, limit: int = 10
    ) -> TopTracks:
        """The user's most played tracks with their artists."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        scoped = await self._resolve(session, user_id, filters)
        rows = await HistoryQueries.top_tracks(session, scoped.scope, limit=limit)
        return TopTracks(
            user_id=user_id, window=scoped.out, tracks=await self._track_plays(session, rows)
        )

    async def _weekday_hour_counts(
        self, session: AsyncSession, scoped: _Scoped, first: datetime | None, last: datetime | None
    ) -> list[list[int]]:
        counts = [[0] * 24 for _ in range(7)]
        if first is None or last is None:
            return counts
        offsets = UtcOffsets.between(scoped.window.tz, first, last)
        for weekday, hour, plays in await HistoryQueries.weekday_hour_counts(
            session, scoped.scope, offsets
        ):
            counts[weekday][hour] += plays
        return counts

    async def heatmap(self, session: AsyncSession, user_id: int, filters: PlayFilter) -> Heatmap:
        """Plays by local weekday and hour, DST changes included."""
        scoped = await self._resolve(session, user_id, filters)
        totals = await HistoryQueries.totals(session, scoped.scope)
        counts = await self._weekday_hour_counts(
            session, scoped, totals.first_play, totals.last_play
        )
        peak = None
        if totals.plays:
            plays, weekday, hour = max((counts[w][h], -w, -h) for w in range(7) for h in range(24))
            peak = HeatmapPeak(weekday=-weekday, hour=-hour, plays=plays)
        return Heatmap(
            user_id=user_id,
            window=scoped.out,
            weekdays=WEEKDAYS,
            counts=counts,
            total_plays=totals.plays,
            peak=peak,
        )

    async def repeat_rate(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, limit: int = 10
    ) -> RepeatRate:
        """Share of plays that repeat a track already played in the window, and the top repeats."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        scoped = await self._resolve(session, user_id, filters)
        totals = await HistoryQueries.totals(session, scoped.scope)
        rows = await HistoryQueries.top_tracks(session, scoped.scope, limit=limit, min_plays=2)
        repeats = totals.plays - totals.distinct_tracks
        return RepeatRate(
            user_id=user_id,
            window=scoped.out,
            total_plays=totals.plays,
            distinct_tracks=totals.distinct_tracks,
            repeat_plays=repeats,
            repeat_rate=_share(repeats, totals.plays),
            top_repeated=[
                RepeatedTrack(**track.model_dump(), repeats=track.plays - 1)
                for track in await self._track_plays(session, rows)
            ],
        )

    async def coverage(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, gaps: int = 5
    ) -> Coverage:
        """Extent of the history: first and last play, sources, days with plays, largest gaps."""
        _check_limit("gaps", gaps, MAX_GAPS)
        scoped = await self._resolve(session, user_id, filters)
        window = scoped.window
        now = self._clock()
        totals = await HistoryQueries.totals(session, scoped.scope)
        by_source = await HistoryQueries.plays_by_source(session, scoped.scope)
        days_with_plays = 0
        if totals.first_play is not None and totals.last_play is not None:
            offsets = UtcOffsets.between(window.tz, totals.first_play, totals.last_play)
            days_with_plays = await HistoryQueries.local_days_with_plays(
                session, scoped.scope, offsets
            )
        # The range stops now even when the window reaches into the future.
        range_first = window.start if window.start is not None else totals.first_play
        range_last = (
            now
            if window.end is None or window.end > now
            else window.end - timedelta(microseconds=1)
        )
        days_in_range = (
            window.local_days_between(range_first, range_last) if range_first is not None else 0
        )
        gap_rows = await HistoryQueries.largest_gaps(session, scoped.scope, limit=gaps)
        return Coverage(
            user_id=user_id,
            window=scoped.out,
            total_plays=totals.plays,
            first_play=totals.first_play,
            last_play=totals.last_play,
            plays_by_source=PlaysBySource(**by_source),
            days_with_plays=days_with_plays,
            days_in_range=days_in_range,
            day_coverage=_share(days_with_plays, days_in_range),
            largest_gaps=[
                ListeningGap(after=g.after, before=g.before, hours=round(g.seconds / 3600, 1))
                for g in gap_rows
            ],
        )

    async def taste_summary(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, limit: int = 5
    ) -> TasteSummary:
        """A compact portrait: top artists and tracks, totals, parts of the day, discoveries."""
        _check_limit("limit", limit, MAX_TASTE_LIST_LENGTH)
        scoped = await self._resolve(session, user_id, filters)
        scope = scoped.scope
        totals = await HistoryQueries.totals(session, scope)
        distinct_artists = await HistoryQueries.distinct_artists(session, scope)
        artists = await HistoryQueries.top_artists(session, scope, limit=limit)
        tracks = await HistoryQueries.top_tracks(session, scope, limit=limit)
        counts = await self._weekday_hour_counts(
            session, scoped, totals.first_play, totals.last_play
        )
        by_hour = [sum(counts[w][h] for w in range(7)) for h in range(24)]
        new_artists = new_tracks = 0
        artist_share: float | None = None
        track_share: float | None = None
        if scope.start is not None:
            new_artists = await HistoryQueries.new_artists(session, scope, scope.start)
            new_tracks = await HistoryQueries.new_tracks(session, scope, scope.start)
            artist_share = _share(new_artists, distinct_artists)
            track_share = _share(new_tracks, totals.distinct_tracks)
        return TasteSummary(
            user_id=user_id,
            window=scoped.out,
            total_plays=totals.plays,
            total_minutes=_minutes(totals.ms_played),
            distinct_artists=distinct_artists,
            distinct_tracks=totals.distinct_tracks,
            top_artists=_artist_plays(artists),
            top_tracks=await self._track_plays(session, tracks),
            by_part_of_day=PartOfDay(
                night=sum(by_hour[0:6]),
                morning=sum(by_hour[6:12]),
                afternoon=sum(by_hour[12:18]),
                evening=sum(by_hour[18:24]),
            ),
            new_artists=new_artists,
            new_tracks=new_tracks,
            artist_discovery_share=artist_share,
            track_discovery_share=track_share,
        )


def _stored_zone(name: str) -> ZoneInfo:
    """The user's stored zone; a name the tz database does not know falls back to UTC."""
    try:
        return resolve_timezone(name)
    except InvalidTimezoneError:
        logger.warning("stored time zone %r is unknown; using UTC", name)
        return ZoneInfo("UTC")
