"""`HistoryQueries`: the SQL behind the history answers, aggregated in the database.

Everything here runs unchanged on SQLite and PostgreSQL. Local times are computed in SQL from
whole UTC epoch seconds plus the zone's offset, which `UtcOffsets` reads from the tz database
(SQLite has none), so weekday, hour and date stay right across DST changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.history.buckets import LocalBuckets
from app.history.window import UtcOffsets
from shared.db.enums import ItemKind, PlaySource
from shared.db.models import Artist, Play, Track, TrackArtist, User

SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
HOURS_PER_WEEK = 168
# 1970-01-01 was a Thursday: day 0 since the epoch has weekday 3 when Monday is 0.
_EPOCH_WEEKDAY = 3


class EpochSeconds(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of a UTC timestamp column, on either dialect."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(EpochSeconds, "postgresql")
def _epoch_seconds_postgresql(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"


@compiles(EpochSeconds, "sqlite")
def _epoch_seconds_sqlite(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores the UTC timestamp as text; strftime('%s') reads it as UTC.
    column = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


@dataclass(frozen=True)
class PlayScope:
    """The plays a query counts: one user's, inside a UTC window, long enough, of given kinds."""

    user_id: int
    start: datetime | None
    end: datetime | None
    min_ms: int
    include_episodes: bool

    def conditions(self, *, windowed: bool = True) -> list[ColumnElement[bool]]:
        """WHERE clauses on `plays`; `windowed=False` drops the window's start."""
        clauses: list[ColumnElement[bool]] = [
            Play.user_id == self.user_id,
            Play.ms_played >= self.min_ms,
        ]
        if not self.include_episodes:
            clauses.append(Play.item_kind == ItemKind.TRACK)
        if windowed and self.start is not None:
            clauses.append(Play.played_at >= self.start)
        if self.end is not None:
            clauses.append(Play.played_at < self.end)
        return clauses


@dataclass(frozen=True)
class Subject:
    """An artist or a track whose plays a question is about."""

    kind: Literal["artist", "track"]
    id: str

    def condition(self) -> ColumnElement[bool]:
        """WHERE clause on `plays`: plays of this track, or of any track crediting the artist."""
        if self.kind == "track":
            return Play.track_id == self.id
        credited = select(TrackArtist.track_id).where(TrackArtist.artist_id == self.id)
        return Play.track_id.in_(credited)


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern matching itself only (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class ArtistRow:
    """An artist's counted plays and milliseconds."""

    artist_id: str
    name: str
    plays: int
    ms_played: int


@dataclass(frozen=True)
class TrackRow:
    """A track's counted plays and milliseconds."""

    track_id: str
    name: str
    kind: str
    album_name: str | None
    plays: int
    ms_played: int


@dataclass(frozen=True)
class Totals:
    """Counts over the whole scope."""

    plays: int
    ms_played: int
    distinct_tracks: int
    first_play: datetime | None
    last_play: datetime | None


@dataclass(frozen=True)
class PlayRow:
    """One play with what was played."""

    play_id: int
    played_at: datetime
    ms_played: int
    source: str
    kind: str
    track_id: str
    track_name: str
    album_name: str | None


@dataclass(frozen=True)
class CandidateRow:
    """An artist or track a name may mean, with its counted plays."""

    id: str
    name: str
    plays: int


@dataclass(frozen=True)
class SubjectStats:
    """Counted plays of one artist or track: how many, how long, first and last."""

    plays: int
    ms_played: int
    first_play: datetime | None
    last_play: datetime | None


@dataclass(frozen=True)
class DiscoveredRow:
    """An artist or track first heard in the window: first play ever, plays and ms since."""

    id: str
    first_play: datetime
    plays: int
    ms_played: int


@dataclass(frozen=True)
class ShiftRow:
    """An artist's counted plays in two periods."""

    artist_id: str
    name: str
    plays_a: int
    plays_b: int


@dataclass(frozen=True)
class ArtistComparison:
    """The artist side of two periods: each one's top list and count, risers and fallers."""

    top_a: list[ArtistRow]
    top_b: list[ArtistRow]
    distinct_a: int
    distinct_b: int
    risers: list[ShiftRow]
    fallers: list[ShiftRow]


@dataclass(frozen=True)
class GapRow:
    """Two consecutive plays and the seconds between them."""

    after: datetime
    before: datetime
    seconds: int


def _local_seconds(
    offsets: UtcOffsets, moment: ColumnElement[datetime] | None = None
) -> ColumnElement[int]:
    """Seconds since 1970-01-01 in local wall-clock time of `moment` (each play's end)."""
    column = Play.played_at.expression if moment is None else moment
    if not offsets.changes:
        offset: ColumnElement[int] = literal(offsets.initial, BigInteger())
    else:
        whens: list[tuple[ColumnElement[bool], int]] = []
        previous = offsets.initial
        for instant, new_offset in offsets.changes:
            whens.append((column < instant, previous))
            previous = new_offset
        offset = case(*whens, else_=previous)
    return EpochSeconds(column) + offset


def _local_day(offsets: UtcOffsets, moment: ColumnElement[datetime] | None = None) -> Any:
    """The local calendar date of `moment` as a day number since 1970-01-01."""
    return _local_seconds(offsets, moment) // SECONDS_PER_DAY


class PlayStatistics(Protocol):
    """The counting behind the history answers: over the plays, or over their summaries."""

    async def totals(
        self, session: AsyncSession, scope: PlayScope, *, distinct_tracks: bool = True
    ) -> Totals:
        """Plays, milliseconds, distinct tracks (0 unless asked), first and last play."""
        ...

    async def first_play(self, session: AsyncSession, scope: PlayScope) -> datetime | None:
        """When the scope's first counted play ended, or None without plays."""
        ...

    async def distinct_artists(self, session: AsyncSession, scope: PlayScope) -> int:
        """How many artists are credited on the scope's plays."""
        ...

    async def top_artists(
        self, session: AsyncSession, scope: PlayScope, *, limit: int, primary_only: bool = False
    ) -> list[ArtistRow]:
        """Artists by plays, then minutes, then id."""
        ...

    async def top_tracks(
        self, session: AsyncSession, scope: PlayScope, *, limit: int, min_plays: int = 1
    ) -> list[TrackRow]:
        """Tracks by plays, then minutes, then id; only those played `min_plays` times."""
        ...

    async def weekday_hour_counts(
        self, session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> list[tuple[int, int, int]]:
        """(local weekday with Monday 0, local hour, plays) of the non-empty hours of the week."""
        ...

    async def local_days_with_plays(
        self, session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> int:
        """How many local calendar dates have at least one play."""
        ...

    async def plays_by_source(self, session: AsyncSession, scope: PlayScope) -> dict[str, int]:
        """Plays per source."""
        ...

    async def largest_gaps(
        self, session: AsyncSession, scope: PlayScope, *, limit: int
    ) -> list[GapRow]:
        """The longest stretches between consecutive plays, longest first."""
        ...

    async def new_tracks(self, session: AsyncSession, scope: PlayScope, since: datetime) -> int:
        """Tracks first heard (ever) at or after `since` and before the scope's end."""
        ...

    async def new_artists(self, session: AsyncSession, scope: PlayScope, since: datetime) -> int:
        """Artists first heard (ever) at or after `since` and before the scope's end."""
        ...

    async def artist_candidates(
        self, session: AsyncSession, scope: PlayScope, name: str, *, exact: bool, limit: int
    ) -> list[CandidateRow]:
        """Heard artists named `name` (or containing it), most played first."""
        ...

    async def track_candidates(
        self,
        session: AsyncSession,
        scope: PlayScope,
        name: str,
        *,
        artist: str | None,
        exact: bool,
        limit: int,
    ) -> list[CandidateRow]:
        """Heard tracks named (or containing) `name`, optionally by `artist`; most played first."""
        ...

    async def subject_stats(
        self, session: AsyncSession, scope: PlayScope, subject: Subject
    ) -> SubjectStats:
        """Counted plays of an artist or track in the scope: count, ms, first and last."""
        ...

    async def edge_play(
        self, session: AsyncSession, scope: PlayScope, subject: Subject, *, last: bool
    ) -> PlayRow | None:
        """The first (or last) counted play of an artist or track in the scope."""
        ...

    async def discovered(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Literal["artist", "track"],
        *,
        limit: int,
    ) -> list[DiscoveredRow]:
        """Artists or tracks first heard inside the window, most played there first."""
        ...

    async def discovery_counts(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Literal["artist", "track"],
        offsets: UtcOffsets,
        buckets: LocalBuckets,
    ) -> list[int]:
        """How many artists or tracks were first heard in each local bucket of the window."""
        ...

    async def artist_shifts(
        self, session: AsyncSession, a: PlayScope, b: PlayScope, *, rising: bool, limit: int
    ) -> list[ShiftRow]:
        """Artists whose plays changed most from period B to period A."""
        ...

    async def compare_artists(
        self, session: AsyncSession, a: PlayScope, b: PlayScope, *, limit: int
    ) -> ArtistComparison:
        """Top artists and artist counts of periods A and B, and the artists that changed most."""
        ...

    async def daily_totals(
        self, session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> list[tuple[int, int, int]]:
        """(local day number since 1970, plays, ms) for every local day with plays."""
        ...


async def artist_comparison(
    stats: PlayStatistics, session: AsyncSession, a: PlayScope, b: PlayScope, *, limit: int
) -> ArtistComparison:
    """`PlayStatistics.compare_artists` as its six parts, each list and count asked alone."""
    return ArtistComparison(
        top_a=await stats.top_artists(session, a, limit=limit),
        top_b=await stats.top_artists(session, b, limit=limit),
        distinct_a=await stats.distinct_artists(session, a),
        distinct_b=await stats.distinct_artists(session, b),
        risers=await stats.artist_shifts(session, a, b, rising=True, limit=limit),
        fallers=await stats.artist_shifts(session, a, b, rising=False, limit=limit),
    )


class HistoryQueries:
    """The SQL of the history answers over the plays; every method takes the session."""

    @staticmethod
    async def user_timezone(session: AsyncSession, user_id: int) -> str | None:
        """The user's stored time zone name, or None when there is no such user."""
        result = await session.execute(select(User.timezone).where(User.id == user_id))
        return result.scalar_one_or_none()

    @staticmethod
    async def totals(
        session: AsyncSession, scope: PlayScope, *, distinct_tracks: bool = True
    ) -> Totals:
        """Plays, milliseconds, distinct tracks (0 unless asked), first and last play."""
        stmt = select(
            func.count(Play.id),
            func.coalesce(func.sum(Play.ms_played), 0),
            func.count(Play.track_id.distinct()),
            func.min(Play.played_at),
            func.max(Play.played_at),
        ).where(*scope.conditions())
        plays, ms_played, distinct, first, last = (await session.execute(stmt)).one()
        return Totals(
            int(plays), int(ms_played), int(distinct) if distinct_tracks else 0, first, last
        )

    @staticmethod
    async def first_play(session: AsyncSession, scope: PlayScope) -> datetime | None:
        """When the scope's first counted play ended, or None without plays."""
        stmt = select(Play.played_at).where(*scope.conditions()).order_by(Play.played_at).limit(1)
        return (await session.execute(stmt)).scalar_one_or_none()

    @staticmethod
    async def distinct_artists(session: AsyncSession, scope: PlayScope) -> int:
        """How many artists are credited on the scope's plays."""
        stmt = (
            select(func.count(TrackArtist.artist_id.distinct()))
            .select_from(Play)
            .join(TrackArtist, TrackArtist.track_id == Play.track_id)
            .where(*scope.conditions())
        )
        return int((await session.execute(stmt)).scalar_one())

    @staticmethod
    async def top_artists(
        session: AsyncSession, scope: PlayScope, *, limit: int, primary_only: bool = False
    ) -> list[ArtistRow]:
        """Artists by plays, then minutes; each credited artist (or only the first) counts."""
        plays = func.count(Play.id).label("plays")
        ms_played = func.sum(Play.ms_played).label("ms_played")
        stmt = (
            select(Artist.id, Artist.name, plays, ms_played)
            .select_from(Play)
            .join(TrackArtist, TrackArtist.track_id == Play.track_id)
            .join(Artist, Artist.id == TrackArtist.artist_id)
            .where(*scope.conditions())
            .group_by(Artist.id, Artist.name)
            .order_by(plays.desc(), ms_played.desc(), Artist.id)
            .limit(limit)
        )
        if primary_only:
            stmt = stmt.where(TrackArtist.position == 0)
        rows = (await session.execute(stmt)).all()
        return [ArtistRow(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    @staticmethod
    async def top_tracks(
        session: AsyncSession, scope: PlayScope, *, limit: int, min_plays: int = 1
    ) -> list[TrackRow]:
        """Tracks by plays, then minutes; `min_plays` keeps only tracks played that often."""
        grouped = (
            select(
                Play.track_id.label("track_id"),
                func.count(Play.id).label("plays"),
                func.sum(Play.ms_played).label("ms_played"),
            )
            .where(*scope.conditions())
            .group_by(Play.track_id)
        )
        if min_plays > 1:
            grouped = grouped.having(func.count(Play.id) >= min_plays)
        counted = grouped.subquery()
        stmt: Select[Any] = (
            select(
                Track.id,
                Track.name,
                Track.kind,
                Track.album_name,
                counted.c.plays,
                counted.c.ms_played,
            )
            .join(counted, counted.c.track_id == Track.id)
            .order_by(counted.c.plays.desc(), counted.c.ms_played.desc(), Track.id)
            .limit(limit)
        )
        rows = (await session.execute(stmt)).all()
        return [
            TrackRow(r[0], r[1], ItemKind(r[2]).value, r[3], int(r[4]), int(r[5])) for r in rows
        ]

    @staticmethod
    async def artist_names(session: AsyncSession, track_ids: Sequence[str]) -> dict[str, list[str]]:
        """Artist names of each track, in credit order."""
        if not track_ids:
            return {}
        stmt = (
            select(TrackArtist.track_id, Artist.name)
            .join(Artist, Artist.id == TrackArtist.artist_id)
            .where(TrackArtist.track_id.in_(list(track_ids)))
            .order_by(TrackArtist.track_id, TrackArtist.position)
        )
        names: dict[str, list[str]] = defaultdict(list)
        for track_id, name in (await session.execute(stmt)).all():
            names[track_id].append(name)
        return dict(names)

    @staticmethod
    async def weekday_hour_counts(
        session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> list[tuple[int, int, int]]:
        """(local weekday with Monday 0, local hour, plays) for every non-empty hour of the week."""
        local_hour = _local_seconds(offsets) // SECONDS_PER_HOUR
        # Hour 0 since the epoch was Thursday 00:00, so shifting by 72 hours starts weeks on Monday.
        hour_of_week = ((local_hour + 24 * _EPOCH_WEEKDAY) % HOURS_PER_WEEK).label("hour_of_week")
        per_play = select(hour_of_week).where(*scope.conditions()).subquery()
        stmt = select(per_play.c.hour_of_week, func.count()).group_by(per_play.c.hour_of_week)
        return [
            (int(hour) // 24, int(hour) % 24, int(plays))
            for hour, plays in (await session.execute(stmt)).all()
        ]

    @staticmethod
    async def local_days_with_plays(
        session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> int:
        """How many local calendar dates have at least one play."""
        local_day = (_local_seconds(offsets) // SECONDS_PER_DAY).label("local_day")
        per_play = select(local_day).where(*scope.conditions()).subquery()
        stmt = select(func.count(per_play.c.local_day.distinct()))
        return int((await session.execute(stmt)).scalar_one())

    @staticmethod
    async def plays_by_source(session: AsyncSession, scope: PlayScope) -> dict[str, int]:
        """Plays per source (api, extended_export, account_export)."""
        stmt = (
            select(Play.source, func.count(Play.id))
            .where(*scope.conditions())
            .group_by(Play.source)
        )
        return {str(source): int(n) for source, n in (await session.execute(stmt)).all()}

    @staticmethod
    async def largest_gaps(session: AsyncSession, scope: PlayScope, *, limit: int) -> list[GapRow]:
        """The longest stretches between consecutive plays, longest first."""
        order = Play.played_at
        epoch = EpochSeconds(Play.played_at)
        consecutive = (
            select(
                func.lag(Play.played_at, type_=Play.played_at.type)
                .over(order_by=order)
                .label("after"),
                Play.played_at.label("before"),
                (epoch - func.lag(epoch).over(order_by=order)).label("seconds"),
            )
            .where(*scope.conditions())
            .subquery()
        )
        stmt = (
            select(consecutive.c.after, consecutive.c.before, consecutive.c.seconds)
            .where(consecutive.c.seconds.is_not(None))
            .order_by(consecutive.c.seconds.desc(), consecutive.c.after)
            .limit(limit)
        )
        rows = (await session.execute(stmt)).all()
        return [GapRow(r[0], r[1], int(r[2])) for r in rows]

    @staticmethod
    async def new_tracks(session: AsyncSession, scope: PlayScope, since: datetime) -> int:
        """Tracks whose first counted play ever is at or after `since` (and inside the scope)."""
        first_heard = (
            select(Play.track_id)
            .where(*scope.conditions(windowed=False))
            .group_by(Play.track_id)
            .having(func.min(Play.played_at) >= since)
            .subquery()
        )
        return int(
            (await session.execute(select(func.count()).select_from(first_heard))).scalar_one()
        )

    @staticmethod
    async def new_artists(session: AsyncSession, scope: PlayScope, since: datetime) -> int:
        """Credited artists whose first counted play ever is at or after `since`."""
        first_heard = (
            select(TrackArtist.artist_id)
            .select_from(Play)
            .join(TrackArtist, TrackArtist.track_id == Play.track_id)
            .where(*scope.conditions(windowed=False))
            .group_by(TrackArtist.artist_id)
            .having(func.min(Play.played_at) >= since)
            .subquery()
        )
        return int(
            (await session.execute(select(func.count()).select_from(first_heard))).scalar_one()
        )

    @staticmethod
    def _play_rows() -> Select[int, datetime, int, PlaySource, ItemKind, str, str, str | None]:
        """Plays with their track's name and album, for lists of single plays."""
        return select(
            Play.id,
            Play.played_at,
            Play.ms_played,
            Play.source,
            Play.item_kind,
            Track.id,
            Track.name,
            Track.album_name,
        ).join(Track, Track.id == Play.track_id)

    @staticmethod
    def _play_row(row: Any) -> PlayRow:
        return PlayRow(
            play_id=int(row[0]),
            played_at=row[1],
            ms_played=int(row[2]),
            source=str(row[3]),
            kind=str(row[4]),
            track_id=row[5],
            track_name=row[6],
            album_name=row[7],
        )

    @staticmethod
    async def play_page(
        session: AsyncSession,
        scope: PlayScope,
        *,
        artist: str | None,
        track: str | None,
        source: str | None,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[PlayRow]:
        """Plays newest first (by end time, then id), strictly after the `after` position."""
        stmt = HistoryQueries._play_rows().where(*scope.conditions())
        if artist:
            credited = (
                select(TrackArtist.track_id)
                .join(Artist, Artist.id == TrackArtist.artist_id)
                .where(Artist.name.ilike(f"%{like_pattern(artist)}%", escape="\\"))
            )
            stmt = stmt.where(Play.track_id.in_(credited))
        if track:
            stmt = stmt.where(Track.name.ilike(f"%{like_pattern(track)}%", escape="\\"))
        if source:
            stmt = stmt.where(Play.source == source)
        if after is not None:
            played_at, play_id = after
            stmt = stmt.where(
                or_(
                    Play.played_at < played_at,
                    and_(Play.played_at == played_at, Play.id < play_id),
                )
            )
        stmt = stmt.order_by(Play.played_at.desc(), Play.id.desc()).limit(limit)
        return [HistoryQueries._play_row(row) for row in (await session.execute(stmt)).all()]

    @staticmethod
    async def artist_by_id(session: AsyncSession, artist_id: str) -> str | None:
        """The artist's name, or None when there is no such artist."""
        stmt = select(Artist.name).where(Artist.id == artist_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    @staticmethod
    async def track_by_id(session: AsyncSession, track_id: str) -> str | None:
        """The track's name, or None when there is no such track."""
        stmt = select(Track.name).where(Track.id == track_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    @staticmethod
    async def artist_candidates(
        session: AsyncSession, scope: PlayScope, name: str, *, exact: bool, limit: int
    ) -> list[CandidateRow]:
        """Heard artists named `name` (or whose name contains it), most played first."""
        pattern = like_pattern(name) if exact else f"%{like_pattern(name)}%"
        plays = func.count(Play.id)
        stmt = (
            select(Artist.id, Artist.name, plays)
            .select_from(Artist)
            .join(TrackArtist, TrackArtist.artist_id == Artist.id)
            .join(Play, Play.track_id == TrackArtist.track_id)
            .where(Artist.name.ilike(pattern, escape="\\"), *scope.conditions())
            .group_by(Artist.id, Artist.name)
            .order_by(plays.desc(), Artist.name, Artist.id)
            .limit(limit)
        )
        return [CandidateRow(r[0], r[1], int(r[2])) for r in (await session.execute(stmt)).all()]

    @staticmethod
    async def track_candidates(
        session: AsyncSession,
        scope: PlayScope,
        name: str,
        *,
        artist: str | None,
        exact: bool,
        limit: int,
    ) -> list[CandidateRow]:
        """Heard tracks named (or containing) `name`, optionally by `artist`; most played first."""
        pattern = like_pattern(name) if exact else f"%{like_pattern(name)}%"
        plays = func.count(Play.id)
        stmt = (
            select(Track.id, Track.name, plays)
            .select_from(Track)
            .join(Play, Play.track_id == Track.id)
            .where(Track.name.ilike(pattern, escape="\\"), *scope.conditions())
            .group_by(Track.id, Track.name)
            .order_by(plays.desc(), Track.name, Track.id)
            .limit(limit)
        )
        if artist:
            credited = (
                select(TrackArtist.track_id)
                .join(Artist, Artist.id == TrackArtist.artist_id)
                .where(Artist.name.ilike(f"%{like_pattern(artist)}%", escape="\\"))
            )
            stmt = stmt.where(Track.id.in_(credited))
        return [CandidateRow(r[0], r[1], int(r[2])) for r in (await session.execute(stmt)).all()]

    @staticmethod
    async def subject_stats(
        session: AsyncSession, scope: PlayScope, subject: Subject
    ) -> SubjectStats:
        """Counted plays of an artist or track in the scope: count, ms, first and last."""
        stmt = select(
            func.count(Play.id),
            func.coalesce(func.sum(Play.ms_played), 0),
            func.min(Play.played_at),
            func.max(Play.played_at),
        ).where(subject.condition(), *scope.conditions())
        plays, ms_played, first, last = (await session.execute(stmt)).one()
        return SubjectStats(int(plays), int(ms_played), first, last)

    @staticmethod
    async def edge_play(
        session: AsyncSession, scope: PlayScope, subject: Subject, *, last: bool
    ) -> PlayRow | None:
        """The first (or last) counted play of an artist or track in the scope."""
        order = (Play.played_at.desc(), Play.id.desc()) if last else (Play.played_at, Play.id)
        stmt = (
            HistoryQueries._play_rows()
            .where(subject.condition(), *scope.conditions())
            .order_by(*order)
            .limit(1)
        )
        row = (await session.execute(stmt)).first()
        return HistoryQueries._play_row(row) if row is not None else None

    @staticmethod
    def _first_heard(scope: PlayScope, kind: Literal["artist", "track"]) -> Subquery:
        """Artists or tracks first heard in the window: first play, plays and ms up to its end."""
        key = TrackArtist.artist_id if kind == "artist" else Play.track_id
        first_play = func.min(Play.played_at)
        stmt = select(
            key.label("id"),
            first_play.label("first_play"),
            func.count(Play.id).label("plays"),
            func.sum(Play.ms_played).label("ms_played"),
        ).select_from(Play)
        if kind == "artist":
            stmt = stmt.join(TrackArtist, TrackArtist.track_id == Play.track_id)
        # Plays after the window's end cannot change a first play inside it; plays before
        # its start decide whether the first play is inside at all.
        stmt = stmt.where(*scope.conditions(windowed=False)).group_by(key)
        if scope.start is not None:
            stmt = stmt.having(first_play >= scope.start)
        return stmt.subquery()

    @staticmethod
    async def discovered(
        session: AsyncSession, scope: PlayScope, kind: Literal["artist", "track"], *, limit: int
    ) -> list[DiscoveredRow]:
        """Artists or tracks first heard inside the window, most played there first."""
        heard = HistoryQueries._first_heard(scope, kind)
        stmt = (
            select(heard.c.id, heard.c.first_play, heard.c.plays, heard.c.ms_played)
            .order_by(
                heard.c.plays.desc(), heard.c.ms_played.desc(), heard.c.first_play, heard.c.id
            )
            .limit(limit)
        )
        return [
            DiscoveredRow(r[0], r[1], int(r[2]), int(r[3]))
            for r in (await session.execute(stmt)).all()
        ]

    @staticmethod
    async def discovery_counts(
        session: AsyncSession,
        scope: PlayScope,
        kind: Literal["artist", "track"],
        offsets: UtcOffsets,
        buckets: LocalBuckets,
    ) -> list[int]:
        """How many artists or tracks were first heard in each local bucket of the window."""
        heard = HistoryQueries._first_heard(scope, kind)
        day = _local_day(offsets, heard.c.first_play).label("day")
        stmt = select(day, func.count()).group_by(day)
        counts = [0] * len(buckets.starts)
        for day_number, n in (await session.execute(stmt)).all():
            index = buckets.index_of_day(int(day_number))
            if index is not None:
                counts[index] += int(n)
        return counts

    @staticmethod
    async def artist_names_by_id(
        session: AsyncSession, artist_ids: Sequence[str]
    ) -> dict[str, str]:
        """Names of the given artists."""
        if not artist_ids:
            return {}
        stmt = select(Artist.id, Artist.name).where(Artist.id.in_(list(artist_ids)))
        return {r[0]: r[1] for r in (await session.execute(stmt)).all()}

    @staticmethod
    async def tracks_by_id(
        session: AsyncSession, track_ids: Sequence[str]
    ) -> dict[str, tuple[str, str, str | None]]:
        """(name, kind, album name) of the given tracks."""
        if not track_ids:
            return {}
        stmt = select(Track.id, Track.name, Track.kind, Track.album_name).where(
            Track.id.in_(list(track_ids))
        )
        return {
            r[0]: (r[1], ItemKind(r[2]).value, r[3]) for r in (await session.execute(stmt)).all()
        }

    @staticmethod
    async def artist_shifts(
        session: AsyncSession, a: PlayScope, b: PlayScope, *, rising: bool, limit: int
    ) -> list[ShiftRow]:
        """Artists whose plays changed most from period B to period A (gains or losses)."""
        in_a = and_(*a.conditions())
        in_b = and_(*b.conditions())
        plays_a = func.sum(case((in_a, 1), else_=0))
        plays_b = func.sum(case((in_b, 1), else_=0))
        change = plays_a - plays_b
        stmt = (
            select(Artist.id, Artist.name, plays_a, plays_b)
            .select_from(Play)
            .join(TrackArtist, TrackArtist.track_id == Play.track_id)
            .join(Artist, Artist.id == TrackArtist.artist_id)
            .where(or_(in_a, in_b))
            .group_by(Artist.id, Artist.name)
            .limit(limit)
        )
        if rising:
            stmt = stmt.having(change > 0).order_by(change.desc(), plays_a.desc(), Artist.id)
        else:
            stmt = stmt.having(change < 0).order_by(change, plays_b.desc(), Artist.id)
        return [
            ShiftRow(r[0], r[1], int(r[2]), int(r[3])) for r in (await session.execute(stmt)).all()
        ]

    async def compare_artists(
        self, session: AsyncSession, a: PlayScope, b: PlayScope, *, limit: int
    ) -> ArtistComparison:
        """Top artists and artist counts of periods A and B, and the artists that changed most."""
        return await artist_comparison(self, session, a, b, limit=limit)

    @staticmethod
    async def daily_totals(
        session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> list[tuple[int, int, int]]:
        """(local day number since 1970, plays, ms) for every local day with plays."""
        day = _local_day(offsets).label("day")
        per_play = select(day, Play.ms_played.label("ms")).where(*scope.conditions()).subquery()
        stmt = select(per_play.c.day, func.count(), func.sum(per_play.c.ms)).group_by(
            per_play.c.day
        )
        return [(int(d), int(n), int(ms)) for d, n, ms in (await session.execute(stmt)).all()]
