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
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.history.window import UtcOffsets
from shared.db.enums import ItemKind
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
class GapRow:
    """Two consecutive plays and the seconds between them."""

    after: datetime
    before: datetime
    seconds: int


def _local_seconds(offsets: UtcOffsets) -> ColumnElement[int]:
    """Seconds since 1970-01-01 in local wall-clock time, for each play."""
    if not offsets.changes:
        offset: ColumnElement[int] = literal(offsets.initial, BigInteger())
    else:
        whens: list[tuple[ColumnElement[bool], int]] = []
        previous = offsets.initial
        for instant, new_offset in offsets.changes:
            whens.append((Play.played_at < instant, previous))
            previous = new_offset
        offset = case(*whens, else_=previous)
    return EpochSeconds(Play.played_at) + offset


class HistoryQueries:
    """The SQL of the history answers; stateless, every method takes the session."""

    @staticmethod
    async def user_timezone(session: AsyncSession, user_id: int) -> str | None:
        """The user's stored time zone name, or None when there is no such user."""
        result = await session.execute(select(User.timezone).where(User.id == user_id))
        return result.scalar_one_or_none()

    @staticmethod
    async def totals(session: AsyncSession, scope: PlayScope) -> Totals:
        """Plays, milliseconds, distinct tracks, first and last play in the scope."""
        stmt = select(
            func.count(Play.id),
            func.coalesce(func.sum(Play.ms_played), 0),
            func.count(Play.track_id.distinct()),
            func.min(Play.played_at),
            func.max(Play.played_at),
        ).where(*scope.conditions())
        plays, ms_played, distinct_tracks, first, last = (await session.execute(stmt)).one()
        return Totals(int(plays), int(ms_played), int(distinct_tracks), first, last)

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
            .order_by(plays.desc(), ms_played.desc(), Artist.name, Artist.id)
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
            .order_by(counted.c.plays.desc(), counted.c.ms_played.desc(), Track.name, Track.id)
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
