"""`HistoryService`: listening statistics of one user, for the HTTP routes and the tools alike."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError, NotFoundError
from app.history.answers import AnswerCache
from app.history.buckets import EPOCH_DATE, BucketSize, CalendarBuckets, LocalBuckets
from app.history.cursor import PlayCursor
from app.history.queries import (
    ArtistRow,
    CandidateRow,
    HistoryQueries,
    PlayRow,
    PlayScope,
    PlayStatistics,
    ShiftRow,
    Subject,
    Totals,
    TrackRow,
)
from app.history.schemas import (
    ArtistPlays,
    ArtistShift,
    Coverage,
    DiscoveredArtist,
    DiscoveredTrack,
    Discoveries,
    DiscoveryBucket,
    FirstListen,
    Heatmap,
    HeatmapPeak,
    ListeningGap,
    ListeningTime,
    PartOfDay,
    PeriodChange,
    PeriodComparison,
    PeriodSummary,
    PlayFilter,
    PlayHistory,
    PlayItem,
    PlaysBySource,
    RepeatedTrack,
    RepeatRate,
    SubjectCandidate,
    TasteSummary,
    TimeBucket,
    TopArtists,
    TopTracks,
    TrackPlays,
    WindowOut,
)
from app.history.summaries import SUMMARY_MIN_MS, ListeningSummaries, SummaryState
from app.history.summary_queries import SummaryQueries
from app.history.window import InvalidTimezoneError, TimeWindow, UtcOffsets, resolve_timezone
from shared.db.base import utc_now
from shared.db.enums import PlaySource

logger = logging.getLogger(__name__)

MAX_LIST_LENGTH = 100
"""Longest list in any answer, so every answer stays far below 100,000 characters."""
MAX_TASTE_LIST_LENGTH = 20
MAX_GAPS = 20
MAX_ARTISTS_PER_TRACK = 5
MAX_ALTERNATIVES = 10
MAX_NAME_LENGTH = 200
"""Longest artist or track name (or part of one) a question may search for."""
MAX_CHART_POINTS = 1000
"""Most buckets in a chart; a longer series is given in coarser buckets."""
SHORT_WINDOW = timedelta(days=90)
"""Discoveries of a window shorter than this are charted per week, otherwise per month."""

_RAW: PlayStatistics = HistoryQueries()
_ANSWER_ATTEMPTS = 3
T = TypeVar("T", bound=BaseModel)

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class InvalidArgumentError(AppError):
    """An argument of a history question is out of its bounds."""

    status_code = 400
    code = "invalid_argument"


class NeverHeardError(NotFoundError):
    """The user has no counted play of the artist or track asked about."""

    code = "never_heard"


def _check_limit(name: str, value: int, maximum: int) -> None:
    if not 1 <= value <= maximum:
        raise InvalidArgumentError(f"{name} must be between 1 and {maximum}; got {value}.")


def _minutes(ms_played: int) -> float:
    return round(ms_played / 60_000, 1)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percent_change(a: float, b: float) -> float | None:
    return round((a - b) / b * 100, 1) if b else None


def _clean_name(name: str, value: str | None) -> str | None:
    """A search text stripped of surrounding blanks; None when empty."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(f"{name} must be at most {MAX_NAME_LENGTH} characters.")
    return value or None


def _local_dates(window: TimeWindow, first: datetime, last: datetime) -> tuple[date, date]:
    """The local dates of two instants in the window's zone."""
    return first.astimezone(window.tz).date(), last.astimezone(window.tz).date()


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
    asked: Hashable
    """The window as asked, which keys the answer cache: `days` windows by their length, so
    that a cached answer about the last N days is reused (it states the window it covers)."""
    state: SummaryState | None = None
    """The summaries' state, read with the user's time zone (a cached answer needs no more)."""

    @classmethod
    def of(
        cls,
        user_id: int,
        filters: PlayFilter,
        window: TimeWindow,
        asked: Hashable = None,
        state: SummaryState | None = None,
    ) -> _Scoped:
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
        if asked is None:
            asked = ("last", filters.days) if filters.days is not None else (scope.start, scope.end)
        key = (user_id, asked, window.timezone_name, filters.min_ms, filters.include_episodes)
        return cls(window, scope, out, key, state)


class HistoryService:
    """Listening statistics of one user: session and plain arguments in, models out."""

    # Plays of at least 30 s (the default) are counted from the listening summaries, brought
    # up to date first; other thresholds, and users awaiting a rebuild, from the plays.

    def __init__(
        self,
        clock: Callable[[], datetime] = utc_now,
        summaries: ListeningSummaries | None = None,
        *,
        use_summaries: bool = True,
        cache: AnswerCache | None = None,
    ) -> None:
        self._clock = clock
        self._summaries = (summaries or ListeningSummaries()) if use_summaries else None
        self._cache = cache

    async def _answer(
        self,
        session: AsyncSession,
        compute: Callable[[PlayStatistics], Awaitable[T]],
        model: type[T],
        question: tuple[Hashable, ...],
        *scoped: _Scoped,
    ) -> T:
        """`compute` over the summaries when they can answer, else over the plays.

        `question` names the method and its arguments beyond the windows; with them it keys
        the answer cache, together with the state of the plays the summaries show. `model`
        is the answer's class, which a cached answer is read back as.
        """
        summaries = self._summaries
        scopes = [s.scope for s in scoped]
        if summaries is None or any(scope.min_ms != SUMMARY_MIN_MS for scope in scopes):
            return await compute(_RAW)
        user_id = scopes[0].user_id
        windows = tuple(s.asked for s in scoped)
        state = scoped[0].state
        for _ in range(_ANSWER_ATTEMPTS):
            view = await summaries.view(session, user_id, state)
            state = None
            if view is None:
                break
            key = (question, windows, view.version, view.newest)
            if self._cache is not None and (cached := self._cache.get(key, model)) is not None:
                return cached
            dialect = session.get_bind().dialect.name
            result = await compute(SummaryQueries(view, user_id, dialect))
            # Each statement of a PostgreSQL transaction sees the latest commits: an answer
            # that straddled a fold by another request is computed again. (A SQLite
            # transaction reads one snapshot throughout.)
            if dialect == "sqlite" or await summaries.version(session) == view.version:
                if self._cache is not None:
                    self._cache.put(key, result)
                return result
        return await compute(_RAW)

    async def _resolve(self, session: AsyncSession, user_id: int, filters: PlayFilter) -> _Scoped:
        state = None
        if self._summaries is not None and filters.min_ms == SUMMARY_MIN_MS:
            stored, state = await self._summaries.timezone_and_state(session, user_id)
        else:
            stored = await HistoryQueries.user_timezone(session, user_id)
        if stored is None:
            raise NotFoundError(f"User {user_id} does not exist.")
        tz = resolve_timezone(filters.tz) if filters.tz is not None else _stored_zone(stored)
        window = TimeWindow.resolve(
            days=filters.days, start=filters.start, end=filters.end, tz=tz, now=self._clock()
        )
        return _Scoped.of(user_id, filters, window, state=state)

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

    async def _play_items(
        self, session: AsyncSession, rows: list[PlayRow], window: TimeWindow
    ) -> list[PlayItem]:
        names = await HistoryQueries.artist_names(session, list({r.track_id for r in rows}))
        return [
            PlayItem(
                played_at=row.played_at,
                played_at_local=row.played_at.astimezone(window.tz),
                track_id=row.track_id,
                track_name=row.track_name,
                kind=row.kind,
                artists=names.get(row.track_id, [])[:MAX_ARTISTS_PER_TRACK],
                album_name=row.album_name,
                ms_played=row.ms_played,
                source=row.source,
            )
            for row in rows
        ]

    def _range_end(self, window: TimeWindow, last_play: datetime | None) -> datetime:
        """Where a chart over the window stops: its end, or now (or the last play) if open."""
        now = self._clock()
        if window.end is not None and window.end <= now:
            return window.end - timedelta(microseconds=1)
        return max(now, last_play) if last_play is not None else now

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

        async def answer(stats: PlayStatistics) -> TopArtists:
            rows = await stats.top_artists(
                session, scoped.scope, limit=limit, primary_only=primary_only
            )
            return TopArtists(
                user_id=user_id,
                window=scoped.out,
                primary_only=primary_only,
                artists=_artist_plays(rows),
            )

        return await self._answer(
            session, answer, TopArtists, ("top_artists", limit, primary_only), scoped
        )

    async def top_tracks(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, limit: int = 10
    ) -> TopTracks:
        """The user's most played tracks with their artists."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        scoped = await self._resolve(session, user_id, filters)

        async def answer(stats: PlayStatistics) -> TopTracks:
            rows = await stats.top_tracks(session, scoped.scope, limit=limit)
            return TopTracks(
                user_id=user_id, window=scoped.out, tracks=await self._track_plays(session, rows)
            )

        return await self._answer(session, answer, TopTracks, ("top_tracks", limit), scoped)

    async def _weekday_hour_counts(
        self,
        session: AsyncSession,
        stats: PlayStatistics,
        scoped: _Scoped,
        first: datetime | None,
        last: datetime | None,
    ) -> list[list[int]]:
        counts = [[0] * 24 for _ in range(7)]
        if first is None or last is None:
            return counts
        offsets = UtcOffsets.between(scoped.window.tz, first, last)
        for weekday, hour, plays in await stats.weekday_hour_counts(session, scoped.scope, offsets):
            counts[weekday][hour] += plays
        return counts

    async def heatmap(self, session: AsyncSession, user_id: int, filters: PlayFilter) -> Heatmap:
        """Plays by local weekday and hour, DST changes included."""
        scoped = await self._resolve(session, user_id, filters)

        async def answer(stats: PlayStatistics) -> Heatmap:
            totals = await stats.totals(session, scoped.scope, distinct_tracks=False)
            counts = await self._weekday_hour_counts(
                session, stats, scoped, totals.first_play, totals.last_play
            )
            peak = None
            if totals.plays:
                plays, weekday, hour = max(
                    (counts[w][h], -w, -h) for w in range(7) for h in range(24)
                )
                peak = HeatmapPeak(weekday=-weekday, hour=-hour, plays=plays)
            return Heatmap(
                user_id=user_id,
                window=scoped.out,
                weekdays=WEEKDAYS,
                counts=counts,
                total_plays=totals.plays,
                peak=peak,
            )

        return await self._answer(session, answer, Heatmap, ("heatmap",), scoped)

    async def repeat_rate(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, limit: int = 10
    ) -> RepeatRate:
        """Share of plays that repeat a track already played in the window, and the top repeats."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        scoped = await self._resolve(session, user_id, filters)

        async def answer(stats: PlayStatistics) -> RepeatRate:
            totals = await stats.totals(session, scoped.scope)
            rows = await stats.top_tracks(session, scoped.scope, limit=limit, min_plays=2)
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

        return await self._answer(session, answer, RepeatRate, ("repeat_rate", limit), scoped)

    async def coverage(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, gaps: int = 5
    ) -> Coverage:
        """Extent of the history: first and last play, sources, days with plays, largest gaps."""
        _check_limit("gaps", gaps, MAX_GAPS)
        scoped = await self._resolve(session, user_id, filters)

        async def answer(stats: PlayStatistics) -> Coverage:
            return await self._coverage(session, stats, scoped, gaps)

        return await self._answer(session, answer, Coverage, ("coverage", gaps), scoped)

    async def _coverage(
        self, session: AsyncSession, stats: PlayStatistics, scoped: _Scoped, gaps: int
    ) -> Coverage:
        window = scoped.window
        now = self._clock()
        totals = await stats.totals(session, scoped.scope, distinct_tracks=False)
        by_source = await stats.plays_by_source(session, scoped.scope)
        days_with_plays = 0
        if totals.first_play is not None and totals.last_play is not None:
            offsets = UtcOffsets.between(window.tz, totals.first_play, totals.last_play)
            days_with_plays = await stats.local_days_with_plays(session, scoped.scope, offsets)
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
        gap_rows = await stats.largest_gaps(session, scoped.scope, limit=gaps)
        return Coverage(
            user_id=scoped.scope.user_id,
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

        async def answer(stats: PlayStatistics) -> TasteSummary:
            return await self._taste_summary(session, stats, scoped, limit)

        return await self._answer(session, answer, TasteSummary, ("taste_summary", limit), scoped)

    async def _taste_summary(
        self, session: AsyncSession, stats: PlayStatistics, scoped: _Scoped, limit: int
    ) -> TasteSummary:
        scope = scoped.scope
        totals = await stats.totals(session, scope)
        distinct_artists = await stats.distinct_artists(session, scope)
        artists = await stats.top_artists(session, scope, limit=limit)
        tracks = await stats.top_tracks(session, scope, limit=limit)
        counts = await self._weekday_hour_counts(
            session, stats, scoped, totals.first_play, totals.last_play
        )
        by_hour = [sum(counts[w][h] for w in range(7)) for h in range(24)]
        new_artists = new_tracks = 0
        artist_share: float | None = None
        track_share: float | None = None
        if scope.start is not None:
            new_artists = await stats.new_artists(session, scope, scope.start)
            new_tracks = await stats.new_tracks(session, scope, scope.start)
            artist_share = _share(new_artists, distinct_artists)
            track_share = _share(new_tracks, totals.distinct_tracks)
        return TasteSummary(
            user_id=scope.user_id,
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

    async def play_history(
        self,
        session: AsyncSession,
        user_id: int,
        filters: PlayFilter,
        *,
        artist: str | None = None,
        track: str | None = None,
        source: PlaySource | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> PlayHistory:
        """The user's plays newest first, filtered by artist, track or source; keyset pages."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        artist = _clean_name("artist", artist)
        track = _clean_name("track", track)
        position = PlayCursor.decode(cursor) if cursor else None
        scoped = await self._resolve(session, user_id, filters)
        rows = await HistoryQueries.play_page(
            session,
            scoped.scope,
            artist=artist,
            track=track,
            source=source.value if source is not None else None,
            after=(position.played_at, position.play_id) if position is not None else None,
            limit=limit + 1,
        )
        page = rows[:limit]
        next_cursor = (
            PlayCursor(page[-1].played_at, page[-1].play_id).encode() if len(rows) > limit else None
        )
        return PlayHistory(
            user_id=user_id,
            window=scoped.out,
            artist=artist,
            track=track,
            source=source.value if source is not None else None,
            plays=await self._play_items(session, page, scoped.window),
            next_cursor=next_cursor,
        )

    async def _candidates(
        self,
        session: AsyncSession,
        stats: PlayStatistics,
        scope: PlayScope,
        kind: Literal["artist", "track"],
        name: str,
        artist: str | None,
    ) -> tuple[list[CandidateRow], str]:
        """Heard artists or tracks named `name` (any case), else containing it, by plays."""
        for exact in (True, False):
            if kind == "artist":
                rows = await stats.artist_candidates(
                    session, scope, name, exact=exact, limit=MAX_ALTERNATIVES + 1
                )
            else:
                rows = await stats.track_candidates(
                    session, scope, name, artist=artist, exact=exact, limit=MAX_ALTERNATIVES + 1
                )
            if rows:
                return rows, "exact_name" if exact else "name_contains"
        return [], "name_contains"

    async def _subject_candidates(
        self, session: AsyncSession, kind: Literal["artist", "track"], rows: list[CandidateRow]
    ) -> list[SubjectCandidate]:
        names = (
            await HistoryQueries.artist_names(session, [r.id for r in rows])
            if kind == "track"
            else {}
        )
        return [
            SubjectCandidate(
                id=r.id,
                name=r.name,
                artists=names.get(r.id, [])[:MAX_ARTISTS_PER_TRACK],
                plays=r.plays,
            )
            for r in rows
        ]

    async def _find_subject(
        self,
        session: AsyncSession,
        stats: PlayStatistics,
        scope: PlayScope,
        kind: Literal["artist", "track"],
        *,
        identifier: str | None,
        name: str | None,
        artist: str | None,
    ) -> tuple[CandidateRow, list[CandidateRow], str]:
        """The artist or track asked about, the other ones its name matches, and how."""
        if identifier is not None:
            found = (
                await HistoryQueries.artist_by_id(session, identifier)
                if kind == "artist"
                else await HistoryQueries.track_by_id(session, identifier)
            )
            if found is None:
                raise NeverHeardError(f"There is no {kind} with id {identifier!r}.")
            return CandidateRow(identifier, found, 0), [], "id"
        assert name is not None
        rows, matched_by = await self._candidates(session, stats, scope, kind, name, artist)
        if not rows:
            by = f" by an artist named like {artist!r}" if artist else ""
            raise NeverHeardError(
                f"No counted play of a {kind} named like {name!r}{by} in this window."
            )
        return rows[0], rows[1:], matched_by

    async def first_listen(
        self,
        session: AsyncSession,
        user_id: int,
        filters: PlayFilter,
        *,
        artist: str | None = None,
        artist_id: str | None = None,
        track: str | None = None,
        track_id: str | None = None,
    ) -> FirstListen:
        """When the user first heard an artist or track, the plays since and the latest play."""
        artist = _clean_name("artist", artist)
        track = _clean_name("track", track)
        artist_id = _clean_name("artist_id", artist_id)
        track_id = _clean_name("track_id", track_id)
        if artist_id is not None and (artist or track or track_id):
            raise InvalidArgumentError("artist_id cannot be combined with another subject.")
        if track_id is not None and (artist or track):
            raise InvalidArgumentError("track_id cannot be combined with another subject.")
        if not (artist or artist_id or track or track_id):
            raise InvalidArgumentError(
                "Say whom or what: artist or artist_id, or track (optionally with artist) or "
                "track_id."
            )
        scoped = await self._resolve(session, user_id, filters)
        kind: Literal["artist", "track"] = (
            "track" if track is not None or track_id is not None else "artist"
        )

        async def answer(stats: PlayStatistics) -> FirstListen:
            chosen, alternatives, matched_by = await self._find_subject(
                session,
                stats,
                scoped.scope,
                kind,
                identifier=artist_id or track_id,
                name=track if kind == "track" else artist,
                artist=artist if kind == "track" else None,
            )
            subject = Subject(kind, chosen.id)
            counted = await stats.subject_stats(session, scoped.scope, subject)
            first = await stats.edge_play(session, scoped.scope, subject, last=False)
            last = await stats.edge_play(session, scoped.scope, subject, last=True)
            if first is None or last is None:
                raise NeverHeardError(
                    f"No counted play of the {kind} {chosen.name!r} ({chosen.id}) in this window."
                )
            [chosen_out] = await self._subject_candidates(
                session, kind, [CandidateRow(chosen.id, chosen.name, counted.plays)]
            )
            first_item, last_item = await self._play_items(session, [first, last], scoped.window)
            return FirstListen(
                user_id=user_id,
                window=scoped.out,
                subject_kind=kind,
                subject=chosen_out,
                matched_by=matched_by,
                alternatives=await self._subject_candidates(session, kind, alternatives),
                first_play=first_item,
                last_play=last_item,
                plays=counted.plays,
                minutes=_minutes(counted.ms_played),
            )

        return await self._answer(
            session,
            answer,
            FirstListen,
            ("first_listen", artist, artist_id, track, track_id),
            scoped,
        )

    async def discoveries(
        self, session: AsyncSession, user_id: int, filters: PlayFilter, *, limit: int = 10
    ) -> Discoveries:
        """Artists and tracks first heard inside the window, and how many per week or month."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        scoped = await self._resolve(session, user_id, filters)

        async def answer(stats: PlayStatistics) -> Discoveries:
            return await self._discoveries(session, stats, scoped, limit)

        return await self._answer(session, answer, Discoveries, ("discoveries", limit), scoped)

    async def _discoveries(
        self, session: AsyncSession, stats: PlayStatistics, scoped: _Scoped, limit: int
    ) -> Discoveries:
        scope = scoped.scope
        artist_rows = await stats.discovered(session, scope, "artist", limit=limit)
        track_rows = await stats.discovered(session, scope, "track", limit=limit)
        artist_names = await HistoryQueries.artist_names_by_id(session, [r.id for r in artist_rows])
        tracks = await HistoryQueries.tracks_by_id(session, [r.id for r in track_rows])
        credits = await HistoryQueries.artist_names(session, [r.id for r in track_rows])
        bucket, timeline = await self._discovery_timeline(session, stats, scoped)
        return Discoveries(
            user_id=scope.user_id,
            window=scoped.out,
            new_artists=sum(b.new_artists for b in timeline),
            new_tracks=sum(b.new_tracks for b in timeline),
            artists=[
                DiscoveredArtist(
                    artist_id=r.id,
                    name=artist_names.get(r.id, r.id),
                    first_played_at=r.first_play,
                    plays=r.plays,
                    minutes=_minutes(r.ms_played),
                )
                for r in artist_rows
            ],
            tracks=[
                DiscoveredTrack(
                    track_id=r.id,
                    name=tracks[r.id][0],
                    kind=tracks[r.id][1],
                    album_name=tracks[r.id][2],
                    artists=credits.get(r.id, [])[:MAX_ARTISTS_PER_TRACK],
                    first_played_at=r.first_play,
                    plays=r.plays,
                    minutes=_minutes(r.ms_played),
                )
                for r in track_rows
            ],
            bucket=bucket.value,
            timeline=timeline,
        )

    async def _discovery_timeline(
        self, session: AsyncSession, stats: PlayStatistics, scoped: _Scoped
    ) -> tuple[BucketSize, list[DiscoveryBucket]]:
        window = scoped.window
        first_play = await stats.first_play(session, scoped.scope)
        start = window.start if window.start is not None else first_play
        if start is None:
            return BucketSize.MONTH, []
        end = self._range_end(window, None)
        size = BucketSize.WEEK if end - start < SHORT_WINDOW else BucketSize.MONTH
        first_day, last_day = _local_dates(window, start, end)
        size = CalendarBuckets.fitting(first_day, last_day, size, MAX_CHART_POINTS) or size
        offsets = UtcOffsets.between(window.tz, start, end)
        starts = CalendarBuckets.starts(first_day, last_day, size)
        buckets = LocalBuckets(
            starts=starts,
            instants=[
                datetime.combine(d, time(), tzinfo=window.tz).astimezone(UTC) for d in starts
            ],
        )
        artists = await stats.discovery_counts(session, scoped.scope, "artist", offsets, buckets)
        tracks = await stats.discovery_counts(session, scoped.scope, "track", offsets, buckets)
        return size, [
            DiscoveryBucket(
                start=bucket_start,
                label=CalendarBuckets.label(bucket_start, size),
                new_artists=artists[index],
                new_tracks=tracks[index],
            )
            for index, bucket_start in enumerate(starts)
        ]

    async def compare_periods(
        self,
        session: AsyncSession,
        user_id: int,
        period_a: PlayFilter,
        period_b: PlayFilter | None = None,
        *,
        limit: int = 10,
    ) -> PeriodComparison:
        """Two periods side by side: totals, A minus B, top artists, risers and fallers."""
        _check_limit("limit", limit, MAX_LIST_LENGTH)
        a = await self._resolve(session, user_id, period_a)
        if period_b is not None:
            b = await self._resolve(session, user_id, period_b)
        else:
            if a.window.start is None:
                raise InvalidArgumentError(
                    "Period A has no start, so there is no stretch before it: give period B."
                )
            a_end = a.window.end if a.window.end is not None else self._clock()
            length = a_end - a.window.start
            before = TimeWindow(start=a.window.start - length, end=a.window.start, tz=a.window.tz)
            b = _Scoped.of(user_id, period_a, before, ("before", a.asked))

        async def answer(stats: PlayStatistics) -> PeriodComparison:
            return await self._comparison(session, stats, a, b, limit)

        return await self._answer(
            session, answer, PeriodComparison, ("compare_periods", limit), a, b
        )

    async def _comparison(
        self, session: AsyncSession, stats: PlayStatistics, a: _Scoped, b: _Scoped, limit: int
    ) -> PeriodComparison:
        totals_a = await stats.totals(session, a.scope)
        totals_b = await stats.totals(session, b.scope)
        artists = await stats.compare_artists(session, a.scope, b.scope, limit=limit)

        def period(
            scoped: _Scoped, totals: Totals, distinct: int, top: list[ArtistRow]
        ) -> PeriodSummary:
            return PeriodSummary(
                window=scoped.out,
                plays=totals.plays,
                minutes=_minutes(totals.ms_played),
                distinct_artists=distinct,
                distinct_tracks=totals.distinct_tracks,
                top_artists=_artist_plays(top),
            )

        def shifts(rows: list[ShiftRow]) -> list[ArtistShift]:
            return [
                ArtistShift(
                    artist_id=r.artist_id,
                    name=r.name,
                    plays_a=r.plays_a,
                    plays_b=r.plays_b,
                    change=r.plays_a - r.plays_b,
                )
                for r in rows
            ]

        summary_a = period(a, totals_a, artists.distinct_a, artists.top_a)
        summary_b = period(b, totals_b, artists.distinct_b, artists.top_b)
        ms_a, ms_b = totals_a.ms_played, totals_b.ms_played
        return PeriodComparison(
            user_id=a.scope.user_id,
            period_a=summary_a,
            period_b=summary_b,
            change=PeriodChange(
                plays=summary_a.plays - summary_b.plays,
                minutes=_minutes(ms_a - ms_b),
                distinct_artists=summary_a.distinct_artists - summary_b.distinct_artists,
                distinct_tracks=summary_a.distinct_tracks - summary_b.distinct_tracks,
                plays_percent=_percent_change(summary_a.plays, summary_b.plays),
                minutes_percent=_percent_change(ms_a, ms_b),
            ),
            risers=shifts(artists.risers),
            fallers=shifts(artists.fallers),
        )

    async def listening_time(
        self,
        session: AsyncSession,
        user_id: int,
        filters: PlayFilter,
        *,
        bucket: BucketSize = BucketSize.DAY,
    ) -> ListeningTime:
        """Plays and minutes per local day, ISO week or month, empty buckets included."""
        scoped = await self._resolve(session, user_id, filters)

        async def answer(stats: PlayStatistics) -> ListeningTime:
            return await self._listening_time(session, stats, scoped, bucket)

        return await self._answer(
            session, answer, ListeningTime, ("listening_time", bucket), scoped
        )

    async def _listening_time(
        self, session: AsyncSession, stats: PlayStatistics, scoped: _Scoped, bucket: BucketSize
    ) -> ListeningTime:
        window = scoped.window
        totals = await stats.totals(session, scoped.scope, distinct_tracks=False)
        start = window.start if window.start is not None else totals.first_play
        buckets: list[TimeBucket] = []
        used = bucket
        if start is not None:
            end = self._range_end(window, totals.last_play)
            first_day, last_day = _local_dates(window, start, end)
            fitting = CalendarBuckets.fitting(first_day, last_day, bucket, MAX_CHART_POINTS)
            if fitting is None:
                raise InvalidArgumentError(
                    f"The window spans more than {MAX_CHART_POINTS} years: give a shorter one."
                )
            used = fitting
            # Keyed by the bucket's first day as a number: a whole history has thousands of days.
            plays: dict[int, int] = defaultdict(int)
            ms_played: dict[int, int] = defaultdict(int)
            if totals.plays:
                assert totals.first_play is not None
                assert totals.last_play is not None
                offsets = UtcOffsets.between(window.tz, totals.first_play, totals.last_play)
                for day_number, n, ms in await stats.daily_totals(session, scoped.scope, offsets):
                    key = CalendarBuckets.start_number(day_number, used)
                    plays[key] += n
                    ms_played[key] += ms
            buckets = []
            for bucket_start in CalendarBuckets.starts(first_day, last_day, used):
                number = (bucket_start - EPOCH_DATE).days
                buckets.append(
                    TimeBucket(
                        start=bucket_start,
                        label=CalendarBuckets.label(bucket_start, used),
                        plays=plays.get(number, 0),
                        minutes=_minutes(ms_played.get(number, 0)),
                    )
                )
        return ListeningTime(
            user_id=scoped.scope.user_id,
            window=scoped.out,
            requested_bucket=bucket.value,
            bucket=used.value,
            total_plays=totals.plays,
            total_minutes=_minutes(totals.ms_played),
            buckets=buckets,
        )


def _stored_zone(name: str) -> ZoneInfo:
    """The user's stored zone; a name the tz database does not know falls back to UTC."""
    try:
        return resolve_timezone(name)
    except InvalidTimezoneError:
        logger.warning("stored time zone %r is unknown; using UTC", name)
        return ZoneInfo("UTC")
