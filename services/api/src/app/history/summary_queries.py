"""`SummaryQueries`: the history answers from the listening summaries, for plays of 30 s or more.

A window is split into what the summaries hold whole and what must be read from the plays:
whole UTC months (per track and artist; read as quarters and years, added or taken away,
where that reads fewer rows) or whole UTC days (times, sources, gaps, first listens) come
from the summaries, the all-time totals from the per-track and per-artist rows;
the partial months or days at the window's edges, and plays not folded in yet, are read from
`plays`. Local times are exact for every zone whose UTC offsets are whole hours; other zones
are answered from the plays. The answers equal those of `HistoryQueries`.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from app.history.buckets import LocalBuckets
from app.history.queries import (
    ArtistComparison,
    ArtistRow,
    CandidateRow,
    DiscoveredRow,
    EpochSeconds,
    GapRow,
    HistoryQueries,
    PlayRow,
    PlayScope,
    ShiftRow,
    Subject,
    SubjectStats,
    Totals,
    TrackRow,
    artist_comparison,
    like_pattern,
)
from app.history.spans import MONTH, SpanRun, open_span_runs, rows_read, span_runs
from app.history.summaries import (
    EPOCH,
    SECONDS_PER_DAY,
    SummaryView,
    UtcDay,
    day_of,
    day_start,
    epoch_seconds,
    month_of,
    month_start,
)
from app.history.window import UtcOffsets
from shared.db.base import sqlite_timestamp
from shared.db.enums import ItemKind
from shared.db.models import (
    NO_PREVIOUS_MONTH,
    Artist,
    ListeningArtist,
    ListeningArtistMonth,
    ListeningArtistSpan,
    ListeningDay,
    ListeningLinkCount,
    ListeningTrack,
    ListeningTrackMonth,
    ListeningTrackSpan,
    Play,
    Track,
    TrackArtist,
)

Kind = Literal["artist", "track"]


RawSums = dict[str, tuple[int, int, int]]
"""id -> (net plays, net ms, plays added) of a window's raw parts."""
AnySelect = Select[*tuple[Any, ...]]
HOURS = range(24)


@dataclass(frozen=True)
class RawPart:
    """Plays of a UTC interval read from `plays`: folded ones with a sign, or unfolded ones."""

    # A sign of -1 takes plays out of a whole month that is added instead.

    start: datetime | None
    end: datetime | None
    sign: int = 1
    folded: bool = True


@dataclass(frozen=True)
class Cover:
    """A window as summary buckets [lo, hi) (None: open), extra whole buckets and raw parts."""

    lo: int | None
    hi: int | None
    extra: tuple[int, ...]
    raw: tuple[RawPart, ...]
    all_time: bool = False


@dataclass(frozen=True)
class _Regimes:
    """A zone's whole-hour offsets by UTC day; a day with a change inside it is split by hour."""

    boundaries: tuple[int, ...]
    hours: tuple[int, ...]
    transition_days: frozenset[int]
    change_instants: tuple[int, ...]
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, offsets: UtcOffsets) -> _Regimes | None:
        """The regimes of `offsets`, or None when an offset or a change is not on a whole hour."""
        if offsets.initial % 3600:
            return None
        boundaries: list[int] = []
        hours = [offsets.initial // 3600]
        transitions: set[int] = set()
        instants: list[int] = []
        values = [offsets.initial]
        for instant, offset in offsets.changes:
            seconds = epoch_seconds(instant)
            if offset % 3600 or seconds % 3600:
                return None
            day = seconds // SECONDS_PER_DAY
            if seconds % SECONDS_PER_DAY:
                transitions.add(day)
                day += 1
            boundaries.append(day)
            hours.append(offset // 3600)
            instants.append(seconds)
            values.append(offset)
        return cls(
            tuple(boundaries), tuple(hours), frozenset(transitions), tuple(instants), tuple(values)
        )

    def offset_at(self, seconds: int) -> int:
        """The offset in seconds at an instant (seconds since 1970), as the raw SQL picks it."""
        return self.offsets[bisect.bisect_right(self.change_instants, seconds)]

    def day_hours(self, day: Any) -> ColumnElement[int]:
        """The offset in hours of a (non-transition) UTC day, as SQL."""
        if not self.boundaries:
            return literal(self.hours[0])
        return case(
            *[(day < boundary, self.hours[i]) for i, boundary in enumerate(self.boundaries)],
            else_=self.hours[-1],
        )


def _hour_sum(columns: Sequence[Any], hours: range) -> ColumnElement[int]:
    total: ColumnElement[int] = literal(0)
    for hour in hours:
        total = total + columns[hour]
    return total


_PLAY_HOURS = [getattr(ListeningDay, f"plays_h{h:02d}") for h in HOURS]
_MS_HOURS = [getattr(ListeningDay, f"ms_h{h:02d}") for h in HOURS]


class SummaryQueries:
    """Answers one user's history questions from the summaries (see the module docstring)."""

    def __init__(self, view: SummaryView, user_id: int, dialect: str) -> None:
        self._view = view
        self._user_id = user_id
        self._sqlite = dialect == "sqlite"
        self._raw = HistoryQueries()
        self._extent: tuple[datetime | None, datetime | None] | None = None
        self._unfolded: bool | None = None
        self._extremes: dict[tuple[Subject, bool, PlayScope], datetime | None] = {}
        self._known: dict[tuple[PlayScope, Kind, bool], _Known] = {}
        self._raw_cache: dict[tuple[PlayScope, Kind, bool, Cover], RawSums] = {}
        self._heads_cache: dict[tuple[Any, ...], list[list[tuple[str, int]]]] = {}

    # -- the window -----------------------------------------------------------------------

    async def _plays_extent(self, session: AsyncSession) -> tuple[datetime | None, datetime | None]:
        """The user's first and last play of any kind and length."""
        if self._extent is None:
            plays = select(Play.played_at).where(Play.user_id == self._user_id)
            stmt = select(
                plays.order_by(Play.played_at).limit(1).scalar_subquery(),
                plays.order_by(Play.played_at.desc()).limit(1).scalar_subquery(),
            )
            earliest, latest = (await session.execute(stmt)).one()
            self._extent = (earliest, latest)
        return self._extent

    async def _has_unfolded(self, session: AsyncSession) -> bool:
        """Whether the user has plays above the watermark."""
        if self._unfolded is None:
            self._unfolded = False
            if self._view.newest > self._view.rolled_up_to:
                stmt = (
                    select(Play.id)
                    .where(
                        Play.id > self._view.rolled_up_to,
                        self._unindexed(Play.user_id) == self._user_id,
                    )
                    .limit(1)
                )
                self._unfolded = (await session.execute(stmt)).first() is not None
        return self._unfolded

    async def _window(
        self, session: AsyncSession, scope: PlayScope
    ) -> tuple[datetime | None, datetime | None]:
        """The scope's window with sides that no play lies beyond left open."""
        first, last = await self._plays_extent(session)
        start = scope.start if scope.start is not None and first is not None else None
        end = scope.end if scope.end is not None and last is not None else None
        if start is not None and first is not None and start <= first:
            start = None
        if end is not None and last is not None and end > last:
            end = None
        return start, end

    async def _months(self, session: AsyncSession, scope: PlayScope) -> Cover:
        """The window's whole UTC months, and partial ones raw or as whole month less the rest."""
        start, end = await self._window(session, scope)
        unfolded = RawPart(scope.start, scope.end, folded=False)
        if start is None and end is None:
            return Cover(None, None, (), (unfolded,), all_time=True)
        lo = None if start is None else month_of(start) + (start != month_start(month_of(start)))
        hi = None if end is None else month_of(end)
        partial = set()
        if start is not None and start != month_start(month_of(start)):
            partial.add(month_of(start))
        if end is not None and end != month_start(month_of(end)):
            partial.add(month_of(end))
        extra: list[int] = []
        raw: list[RawPart] = [unfolded]
        for month in sorted(partial):
            first, after = month_start(month), month_start(month + 1)
            inside = (max(first, start) if start else first, min(after, end) if end else after)
            outside = [(first, inside[0]), (inside[1], after)]
            rest = sum(((b - a) for a, b in outside), timedelta())
            if rest < inside[1] - inside[0]:
                extra.append(month)
                raw.extend(RawPart(a, b, sign=-1) for a, b in outside if a < b)
            else:
                raw.append(RawPart(*inside))
        if lo is not None and hi is not None and lo >= hi:
            lo = hi = 0  # no whole month inside
        return Cover(lo, hi, tuple(extra), tuple(raw))

    async def _days(self, session: AsyncSession, scope: PlayScope) -> Cover:
        """Whole UTC days of the window, its partial days and unfolded plays read raw."""
        start, end = await self._window(session, scope)
        unfolded = RawPart(scope.start, scope.end, folded=False)
        lo = None if start is None else day_of(start) + (start != day_start(day_of(start)))
        hi = None if end is None else day_of(end)
        if lo is not None and hi is not None and lo >= hi:
            return Cover(0, 0, (), (RawPart(start, end), unfolded))
        raw = [unfolded]
        if start is not None and lo is not None and start < day_start(lo):
            raw.append(RawPart(start, day_start(lo)))
        if end is not None and hi is not None and day_start(hi) < end:
            raw.append(RawPart(day_start(hi), end))
        return Cover(lo, hi, (), tuple(raw))

    def _unindexed(self, column: Any) -> Any:
        """On SQLite, a column as an expression no index serves (`+column`), to steer its
        planner."""
        # (PostgreSQL, which keeps statistics, chooses well and has none for the expression.)
        if not self._sqlite:
            return column
        return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)

    def _among(self, column: Any, ids: AnySelect | Sequence[str]) -> ColumnElement[bool]:
        """`column IN ids`, a list of ids bound as one value: a JSON array on SQLite, an array
        on PostgreSQL. (Bound one by one, the thousands of ids of a window's edges cost more
        to render and send than the query takes to run.)"""
        condition: ColumnElement[bool]
        if isinstance(ids, Select):
            condition = column.in_(ids)
        elif self._sqlite:
            listed = bindparam(None, orjson.dumps(list(ids)).decode(), type_=String)
            condition = column.in_(select(func.json_each(listed).table_valued("value").c.value))
        else:
            condition = column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
        return condition

    def _kinds(self, scope: PlayScope) -> list[ItemKind]:
        return list(ItemKind) if scope.include_episodes else [ItemKind.TRACK]

    def _raw_where(self, scope: PlayScope, part: RawPart) -> list[ColumnElement[bool]]:
        """Conditions on `plays` of a raw part (each part alone can use an index)."""
        clauses: list[ColumnElement[bool]] = [
            Play.ms_played >= scope.min_ms,
            Play.id <= self._view.rolled_up_to
            if part.folded
            else Play.id > self._view.rolled_up_to,
            # Unfolded plays are few and have the highest ids: read them by id range.
            Play.user_id == self._user_id
            if part.folded
            else self._unindexed(Play.user_id) == self._user_id,
        ]
        if not scope.include_episodes:
            clauses.append(Play.item_kind == ItemKind.TRACK)
        if part.start is not None:
            clauses.append(Play.played_at >= part.start)
        if part.end is not None:
            clauses.append(Play.played_at < part.end)
        return clauses

    @staticmethod
    def _bucket_range(column: Any, cover: Cover) -> ColumnElement[bool] | None:
        """`column` within the cover's buckets [lo, hi) or its extra buckets; None: all."""
        if cover.all_time:
            return None
        inside: list[ColumnElement[bool]] = []
        if cover.lo is not None:
            inside.append(column >= cover.lo)
        if cover.hi is not None:
            inside.append(column < cover.hi)
        within = and_(*inside) if inside else literal(True)
        return or_(within, column.in_(cover.extra)) if cover.extra else within

    # -- per track and per artist ---------------------------------------------------------

    def _entity_parts(
        self,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        *,
        primary_only: bool = False,
        ids: AnySelect | list[str] | None = None,
    ) -> list[AnySelect]:
        """SELECTs of (id, plays, ms) whose sum per id is the scope's counted plays."""
        kinds = self._kinds(scope)
        table, key, plays, ms = _entity_columns(kind, all_time=cover.all_time, primary=primary_only)
        summary = select(key.label("id"), plays.label("plays"), ms.label("ms")).where(
            table.user_id == self._user_id, table.item_kind.in_(kinds)
        )
        # Given ids, each is looked up (user, id, month) rather than every month scanned.
        months = None
        if not cover.all_time:
            month = self._unindexed(table.month) if ids is not None else table.month
            months = self._bucket_range(month, cover)
        if months is not None:
            summary = summary.where(months)
        if primary_only:
            summary = summary.where(plays > 0)
        if ids is not None:
            summary = summary.where(self._among(key, ids))
        return [summary, *self._raw_entity_parts(scope, kind, cover, primary_only=primary_only)]

    async def _span_parts(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        *,
        primary_only: bool = False,
    ) -> list[AnySelect]:
        """SELECTs of (id, plays, ms) whose sum per id is the scope's counted plays, the whole
        months read as the months, quarters and years (added or taken away) that read the
        fewest rows, each run by its own index range, and the raw parts from `plays` (the
        whole history: its all-time rows)."""
        if cover.all_time:
            return self._entity_parts(scope, kind, cover, primary_only=primary_only)
        parts = [
            self._span_part(scope, kind, run, primary_only)
            for run in await self._span_runs(session, cover)
        ]
        return [*parts, *self._raw_entity_parts(scope, kind, cover, primary_only=primary_only)]

    async def _span_runs(self, session: AsyncSession, cover: Cover) -> tuple[SpanRun, ...]:
        """The cover's whole months as spans, each stretch of consecutive months apart."""
        months = sorted(set(await self._month_list(session, cover)))
        first, last = await self._plays_extent(session)
        runs: list[SpanRun] = []
        for _gap, stretch in itertools.groupby(enumerate(months), lambda pair: pair[1] - pair[0]):
            consecutive = [month for _index, month in stretch]
            lo, hi = consecutive[0], consecutive[-1] + 1
            # An open side of the window ends at the history's first or last month: no row
            # lies beyond it, so spans may reach past it.
            runs.extend(
                open_span_runs(
                    lo,
                    hi,
                    empty_before=cover.lo is None and first is not None and lo == month_of(first),
                    empty_after=cover.hi is None and last is not None and hi == month_of(last) + 1,
                )
            )
        return tuple(runs)

    async def _rows_read(self, session: AsyncSession, cover: Cover) -> float | None:
        """The summary rows a sum over the cover's spans reads, in months' worth (None: the
        whole history, read from the all-time rows)."""
        return None if cover.all_time else rows_read(await self._span_runs(session, cover))

    def _span_part(
        self,
        scope: PlayScope,
        kind: Kind,
        run: SpanRun,
        primary_only: bool,
        ids: AnySelect | list[str] | None = None,
    ) -> AnySelect:
        """SELECT of (id, plays, ms) of a run of months, quarters or years, signed (of the
        given ids only, each looked up by its key)."""
        table, key, plays, ms = _entity_columns(
            kind, all_time=False, primary=primary_only, span=run.months != MONTH
        )
        first, bounds = (
            (table.month, []) if run.months == MONTH else (table.start, [table.span == run.months])
        )
        part = select(
            key.label("id"),
            (plays if run.sign > 0 else -plays).label("plays"),
            (ms if run.sign > 0 else -ms).label("ms"),
        ).where(
            table.user_id == self._user_id,
            *bounds,
            table.item_kind.in_(self._kinds(scope)),
            first >= run.first,
            first <= run.last,
        )
        if ids is not None:
            part = part.where(self._among(key, ids))
        return part.where(plays > 0) if primary_only else part

    def _raw_entity_parts(
        self, scope: PlayScope, kind: Kind, cover: Cover, *, primary_only: bool = False
    ) -> list[AnySelect]:
        """SELECTs of (id, +-1, +-ms) of the cover's raw parts, read from `plays`."""
        parts: list[AnySelect] = []
        for part in cover.raw:
            sign = literal(part.sign)
            if kind == "track":
                raw = select(
                    Play.track_id.label("id"),
                    sign.label("plays"),
                    (Play.ms_played * part.sign).label("ms"),
                ).where(*self._raw_where(scope, part))
            else:
                raw = (
                    select(
                        TrackArtist.artist_id.label("id"),
                        sign.label("plays"),
                        (Play.ms_played * part.sign).label("ms"),
                    )
                    .join(TrackArtist, TrackArtist.track_id == Play.track_id)
                    .where(*self._raw_where(scope, part))
                )
                if primary_only:
                    raw = raw.where(TrackArtist.position == 0)
            parts.append(raw)
        return parts

    def _sums(self, parts: list[AnySelect], ids: AnySelect | list[str] | None = None) -> Subquery:
        """(id, plays, ms) per id over the parts, for ids with plays left (of `ids` if given)."""
        union = union_all(*parts).subquery()
        plays = func.sum(union.c.plays)
        summed = (
            select(union.c.id, plays.label("plays"), func.sum(union.c.ms).label("ms"))
            .group_by(union.c.id)
            .having(plays > 0)
        )
        # The raw parts are few plays, summed whole: an id list inside them would make the
        # planner probe every id for every play (a HAVING term is not pushed down into them).
        if ids is not None:
            summed = summed.having(self._among(union.c.id, ids))
        return summed.subquery()

    async def _top(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        *,
        limit: int,
        min_plays: int = 1,
        primary_only: bool = False,
    ) -> list[tuple[str, int, int]]:
        """(id, plays, ms) of the most played artists or tracks."""
        cover = await self._months(session, scope)
        kinds = self._kinds(scope)
        unfolded = await self._has_unfolded(session)
        if cover.all_time and len(kinds) == 1 and not unfolded:
            table, key, plays, ms = _entity_columns(kind, all_time=True, primary=primary_only)
            stmt: AnySelect = (
                select(key, plays, ms)
                .where(
                    table.user_id == self._user_id,
                    table.item_kind == kinds[0],
                    plays >= max(min_plays, 1),
                )
                .order_by(plays.desc(), ms.desc(), key)
                .limit(limit)
            )
            return [(r[0], int(r[1]), int(r[2])) for r in (await session.execute(stmt)).all()]
        rows = await self._rows_read(session, cover)
        if rows is not None and rows <= _SUM_ALL_ROWS[kind]:
            union = union_all(
                *await self._span_parts(session, scope, kind, cover, primary_only=primary_only)
            ).subquery()
            summed = func.sum(union.c.plays)
            summed_ms = func.sum(union.c.ms)
            stmt = (
                select(union.c.id, summed, summed_ms)
                .group_by(union.c.id)
                .having(summed >= max(min_plays, 1))
                .order_by(summed.desc(), summed_ms.desc(), union.c.id)
                .limit(limit)
            )
            return [(r[0], int(r[1]), int(r[2])) for r in (await session.execute(stmt)).all()]
        top = _Ranking(
            limit,
            minimum=max(min_plays, 1),
            value=lambda row: int(row[1]),
            order=lambda row: (-row[1], -row[2], row[0]),
        )
        async for candidates, bound in self._candidate_rounds(
            session, scope, kind, cover, limit, primary_only
        ):
            top.offer(
                await self._exact(
                    session, scope, kind, cover, candidates, primary_only=primary_only
                )
            )
            if bound is None or top.settled(bound):
                break
        return [(row[0], row[1], row[2]) for row in top.best()]

    async def _candidate_rounds(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        limit: int,
        primary_only: bool,
    ) -> AsyncIterator[tuple[list[str] | None, int | None]]:
        """Rounds of (candidate ids or None for all, most plays an id not offered yet can have)."""
        # A bound of None: every id has been offered.
        kinds = self._kinds(scope)
        if not cover.all_time:
            # Taking a span away only lowers an id's plays: the spans added bound them.
            runs = tuple(run for run in await self._span_runs(session, cover) if run.sign > 0)
            depth = max(4 * limit, _HEAD_DEPTH)
            while True:
                heads = await self._heads(session, scope, kind, cover, runs, depth, primary_only)
                candidates = sorted({key_id for head in heads for key_id, _ in head})
                if len(candidates) > _MAX_CANDIDATES:
                    # A flat history: summing every span is cheaper than deeper heads.
                    yield None, None
                    return
                full = [head for head in heads if len(head) == depth]
                yield candidates, sum(head[-1][1] for head in full) if full else None
                if not full:
                    return
                depth *= 4
        elif len(kinds) == 1 and not await self._has_unfolded(session):
            # Plays over the whole history bound the plays in any window.
            table, key, plays, ms = _entity_columns(kind, all_time=True, primary=primary_only)
            chunk = max(4 * limit, _HEAD_DEPTH)
            offset = 0
            while True:
                stmt = (
                    select(key, plays)
                    .where(table.user_id == self._user_id, table.item_kind == kinds[0], plays > 0)
                    .order_by(plays.desc(), ms.desc(), key)
                    .offset(offset)
                    .limit(chunk)
                )
                rows = (await session.execute(stmt)).all()
                exhausted = len(rows) < chunk
                yield [r[0] for r in rows], None if exhausted else int(rows[-1][1])
                if exhausted:
                    return
                offset += chunk
                chunk *= 2
        else:
            yield None, None

    async def _heads(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        runs: tuple[SpanRun, ...],
        depth: int,
        primary_only: bool,
    ) -> list[list[tuple[str, int]]]:
        """The `depth` most played ids of each span of the runs and of the window's raw plays."""
        kinds = self._kinds(scope)
        # A comparison ranks a period's artists twice (its top list, and its risers or
        # fallers): the spans' lists are read once.
        cached = (kind, tuple(kinds), runs, depth, primary_only)
        if cached not in self._heads_cache:
            self._heads_cache[cached] = await self._span_heads(
                session, kind, kinds, runs, depth, primary_only
            )
        heads = list(self._heads_cache[cached])
        heads.append(await self._raw_head(session, scope, kind, cover, depth, primary_only))
        return heads

    async def _span_heads(
        self,
        session: AsyncSession,
        kind: Kind,
        kinds: list[ItemKind],
        runs: tuple[SpanRun, ...],
        depth: int,
        primary_only: bool,
    ) -> list[list[tuple[str, int]]]:
        parts: list[AnySelect] = []
        for run in runs:
            for first in range(run.first, run.last + 1, run.months):
                head = self._span_head(
                    kind, kinds, run, first, depth, primary_only, literal(len(parts)).label("list")
                )
                parts.append(select(head.subquery()))
        by_list: dict[int, list[tuple[str, int]]] = defaultdict(list)
        if parts:
            for listed, key_id, count in (await session.execute(union_all(*parts))).all():
                by_list[int(listed)].append((key_id, int(count)))
        return list(by_list.values())

    def _span_head(
        self,
        kind: Kind,
        kinds: list[ItemKind],
        run: SpanRun,
        first: int,
        depth: int,
        primary_only: bool,
        *labels: Any,
    ) -> AnySelect:
        """SELECT of (*labels, id, plays) of the `depth` most played ids of the span of `run`
        starting at `first`."""
        table, key, plays, ms = _entity_columns(
            kind, all_time=False, primary=primary_only, span=run.months != MONTH
        )
        return (
            select(*labels, key.label("id"), plays.label("plays"))
            .where(*self._span_at(table, run.months, first), table.item_kind.in_(kinds))
            .where(plays > 0)
            .order_by(plays.desc(), ms.desc(), key)
            .limit(depth)
        )

    def _span_at(self, table: Any, months: int, first: int) -> list[ColumnElement[bool]]:
        """The user's rows of one month (`months` 1) or one quarter or year starting at `first`."""
        if months == MONTH:
            return [table.user_id == self._user_id, table.month == first]
        return [table.user_id == self._user_id, table.span == months, table.start == first]

    async def _month_list(self, session: AsyncSession, cover: Cover) -> list[int]:
        """Every month the cover reads from the summaries."""
        first, last = await self._plays_extent(session)
        if first is None or last is None:
            return []
        lo = cover.lo if cover.lo is not None else month_of(first)
        hi = cover.hi if cover.hi is not None else month_of(last) + 1
        return [*range(lo, hi), *cover.extra]

    async def _exact(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        ids: list[str] | None,
        *,
        primary_only: bool,
    ) -> list[tuple[str, int, int]]:
        """(id, plays, ms) in the window of the given artists or tracks (all when None)."""
        known = self._known.setdefault((scope, kind, primary_only), _Known())
        if ids is None:
            if not known.complete:
                rows = await self._sum_rows(session, scope, kind, cover, None, primary_only)
                known.values = {r[0]: (r[1], r[2]) for r in rows}
                known.complete = True
            return [(key_id, *values) for key_id, values in known.values.items()]
        missing = [] if known.complete else [i for i in ids if i not in known.asked]
        if missing:
            for row in await self._sum_rows(session, scope, kind, cover, missing, primary_only):
                known.values[row[0]] = (row[1], row[2])
            known.asked.update(missing)
        return [(i, *known.values[i]) for i in ids if i in known.values]

    async def _sum_rows(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        ids: list[str] | None,
        primary_only: bool,
    ) -> list[tuple[str, int, int]]:
        if cover.all_time:
            parts = self._entity_parts(scope, kind, cover, primary_only=primary_only, ids=ids)[:1]
        else:
            parts = [
                self._span_part(scope, kind, run, primary_only, ids)
                for run in await self._span_runs(session, cover)
            ]
        totals: dict[str, list[int]] = {}
        if parts:
            part = union_all(*parts).subquery()
            stmt = select(part.c.id, func.sum(part.c.plays), func.sum(part.c.ms)).group_by(
                part.c.id
            )
            totals = {r[0]: [int(r[1]), int(r[2])] for r in (await session.execute(stmt)).all()}
        raw = await self._raw_sums(session, scope, kind, cover, primary_only)
        wanted = set(ids) if ids is not None else None
        for key_id, (plays, ms, _added) in raw.items():
            if wanted is None or key_id in wanted:
                values = totals.setdefault(key_id, [0, 0])
                values[0] += plays
                values[1] += ms
        return [(key_id, plays, ms) for key_id, (plays, ms) in totals.items() if plays > 0]

    async def _raw_sums(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        primary_only: bool,
    ) -> RawSums:
        """id -> (net plays, net ms, plays added) of the cover's raw parts, read once."""
        key = (scope, kind, primary_only, cover)
        if key not in self._raw_cache:
            union = union_all(
                *self._raw_entity_parts(scope, kind, cover, primary_only=primary_only)
            ).subquery()
            added = func.sum(case((union.c.plays > 0, union.c.plays), else_=0))
            stmt = select(
                union.c.id, func.sum(union.c.plays), func.sum(union.c.ms), added
            ).group_by(union.c.id)
            self._raw_cache[key] = {
                r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in (await session.execute(stmt)).all()
            }
        return self._raw_cache[key]

    async def _raw_head(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        cover: Cover,
        depth: int,
        primary_only: bool,
    ) -> list[tuple[str, int]]:
        """The most played ids among the plays added from `plays` (edges and unfolded ones)."""
        raw = await self._raw_sums(session, scope, kind, cover, primary_only)
        added = sorted(
            ((key_id, values[2]) for key_id, values in raw.items() if values[2] > 0),
            key=lambda item: (-item[1], item[0]),
        )
        return added[:depth]

    async def top_artists(
        self, session: AsyncSession, scope: PlayScope, *, limit: int, primary_only: bool = False
    ) -> list[ArtistRow]:
        """Artists by plays, then minutes, then id."""
        rows = await self._top(session, scope, "artist", limit=limit, primary_only=primary_only)
        names = await self._raw.artist_names_by_id(session, [r[0] for r in rows])
        return [ArtistRow(r[0], names.get(r[0], r[0]), r[1], r[2]) for r in rows]

    async def top_tracks(
        self, session: AsyncSession, scope: PlayScope, *, limit: int, min_plays: int = 1
    ) -> list[TrackRow]:
        """Tracks by plays, then minutes, then id; only those played `min_plays` times."""
        rows = await self._top(session, scope, "track", limit=limit, min_plays=min_plays)
        tracks = await self._raw.tracks_by_id(session, [r[0] for r in rows])
        return [
            TrackRow(r[0], tracks[r[0]][0], tracks[r[0]][1], tracks[r[0]][2], r[1], r[2])
            for r in rows
        ]

    async def _distinct(self, session: AsyncSession, scope: PlayScope, kind: Kind) -> int:
        """How many tracks (or credited artists) have counted plays in the scope."""
        start, end = await self._window(session, scope)
        if (start is None or end is None) and not await self._has_unfolded(session):
            table: Any = ListeningTrack if kind == "track" else ListeningArtist
            key = table.track_id if kind == "track" else table.artist_id
            kinds = self._kinds(scope)
            counted = func.count() if len(kinds) == 1 else func.count(key.distinct())
            stmt = select(counted).where(table.user_id == self._user_id, table.item_kind.in_(kinds))
            # Without plays after the window, a track is in it when its last play is.
            if start is not None:
                stmt = stmt.where(table.last_played_at >= start)
            if end is not None:
                stmt = stmt.where(table.first_played_at < end)
            return int((await session.execute(stmt)).scalar_one())
        kinds = self._kinds(scope)
        cover = await self._months(session, scope)
        if len(kinds) == 1 and not cover.all_time:
            return await self._distinct_by_months(session, scope, kind, kinds[0])
        sums = self._sums(await self._span_parts(session, scope, kind, cover))
        return int((await session.execute(select(func.count()).select_from(sums))).scalar_one())

    async def _distinct_by_months(
        self, session: AsyncSession, scope: PlayScope, kind: Kind, item: ItemKind
    ) -> int:
        """Ids played in the whole months (where each first appears), plus edge-only ids."""
        # Edge ids: plays left in the partial months (raw, or the whole month less its
        # rest) and unfolded plays, and no play in the whole months.
        cover = await self._months(session, scope)
        table, key, plays, _ms = _entity_columns(kind, all_time=False, primary=False)
        # A window inside one or two months has no whole month: its ids are all edge ids.
        whole_months = cover.lo is None or cover.hi is None or cover.lo < cover.hi
        linked = await self._linked_before(session, kind, item, cover) if whole_months else None
        # Per edge id: its net plays, and whether it is in the whole months when its row in
        # the month right after them says so (its previous month lies inside them); others
        # are looked up, each until its first row inside.
        first, _last = await self._plays_extent(session)
        lo = cover.lo if cover.lo is not None or first is None else month_of(first)
        unknown = literal(None, Integer).label("inside")
        parts = [
            part.with_only_columns(part.selected_columns.id, part.selected_columns.plays, unknown)
            for part in self._raw_entity_parts(scope, kind, cover)
        ]
        for month in cover.extra:
            known = whole_months and lo is not None and month == cover.hi
            parts.append(
                select(
                    key.label("id"),
                    plays.label("plays"),
                    case((table.prev_month >= lo, 1), else_=0).label("inside")
                    if known
                    else unknown,
                ).where(
                    table.user_id == self._user_id, table.item_kind == item, table.month == month
                )
            )
        edge_plays = union_all(*parts).subquery()
        edge = (
            select(edge_plays.c.id, func.max(edge_plays.c.inside).label("inside"))
            .group_by(edge_plays.c.id)
            .having(func.sum(edge_plays.c.plays) > 0)
            .subquery()
        )
        edge_only = select(func.count()).select_from(edge)
        if whole_months:
            inside = key.table.alias("inside")
            months = self._bucket_range(inside.c.month, Cover(cover.lo, cover.hi, (), ()))
            assert months is not None
            looked_up = ~exists().where(
                inside.c.user_id == self._user_id,
                self._unindexed(inside.c.item_kind) == item,
                inside.c[key.key] == edge.c.id,
                months,
            )
            edge_only = edge_only.where(
                or_(edge.c.inside == 0, and_(edge.c.inside.is_(None), looked_up))
            )
        counted: ColumnElement[Any] = edge_only.scalar_subquery()
        if linked is not None:
            counted = counted + linked.scalar_subquery()
        return int((await session.execute(select(counted))).scalar_one())

    async def _linked_before(
        self, session: AsyncSession, kind: Kind, item: ItemKind, cover: Cover
    ) -> AnySelect | None:
        """SELECT of how many month rows of the cover's whole months link back to a month
        before them (or to none): its distinct ids, from the link counts of its months,
        quarters and years (None: no month holds a row)."""
        first, last = await self._plays_extent(session)
        if first is None or last is None:
            return None
        lo = cover.lo if cover.lo is not None else month_of(first)
        hi = cover.hi if cover.hi is not None else month_of(last) + 1
        links = ListeningLinkCount
        # Every real month is above NO_PREVIOUS_MONTH: open on the left, only rows with none.
        before = cover.lo if cover.lo is not None else NO_PREVIOUS_MONTH + 1
        parts = [
            select((links.month_rows * run.sign).label("rows")).where(
                links.user_id == self._user_id,
                links.subject == kind,
                links.item_kind == item,
                links.span == run.months,
                links.start >= run.first,
                links.start <= run.last,
                links.prev_month < before,
            )
            for run in span_runs(lo, hi)
        ]
        if not parts:
            return None
        counted = union_all(*parts).subquery()
        return select(func.coalesce(func.sum(counted.c.rows), 0))

    async def distinct_artists(self, session: AsyncSession, scope: PlayScope) -> int:
        """How many artists are credited on the scope's plays."""
        return await self._distinct(session, scope, "artist")

    # -- totals and times of day ----------------------------------------------------------

    def _day_rows(self, scope: PlayScope, cover: Cover) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [
            ListeningDay.user_id == self._user_id,
            ListeningDay.item_kind.in_(self._kinds(scope)),
        ]
        days = self._bucket_range(ListeningDay.day, cover)
        if days is not None:
            clauses.append(days)
        return clauses

    async def _raw_plays(
        self, session: AsyncSession, scope: PlayScope, cover: Cover
    ) -> list[tuple[datetime, int, str]]:
        """(played_at, ms, source) of the cover's raw parts (all of sign +1 for days)."""
        rows: list[tuple[datetime, int, str]] = []
        for part in cover.raw:
            if not part.folded and not await self._has_unfolded(session):
                continue
            stmt = select(Play.played_at, Play.ms_played, Play.source).where(
                *self._raw_where(scope, part)
            )
            rows.extend((r[0], int(r[1]), str(r[2])) for r in (await session.execute(stmt)).all())
        return rows

    async def totals(
        self, session: AsyncSession, scope: PlayScope, *, distinct_tracks: bool = True
    ) -> Totals:
        """Plays, milliseconds, distinct tracks (0 unless asked), first and last play."""
        cover = await self._days(session, scope)
        counted = select(Play.played_at).where(*scope.conditions())
        # The partial days and unfolded plays, counted from `plays` in the same statement.
        raw_parts = [
            select(Play.ms_played.label("ms")).where(*self._raw_where(scope, part))
            for part in cover.raw
            if part.folded or await self._has_unfolded(session)
        ]
        raw: list[Any] = [literal(0), literal(0)]
        if raw_parts:
            raw_plays = union_all(*raw_parts).cte("raw_plays")
            raw = [
                select(func.count()).select_from(raw_plays).scalar_subquery(),
                select(func.coalesce(func.sum(raw_plays.c.ms), 0)).scalar_subquery(),
            ]
        summed = select(
            select(func.coalesce(func.sum(ListeningDay.plays), 0))
            .where(*self._day_rows(scope, cover))
            .scalar_subquery(),
            select(func.coalesce(func.sum(ListeningDay.ms_played), 0))
            .where(*self._day_rows(scope, cover))
            .scalar_subquery(),
            counted.order_by(Play.played_at).limit(1).scalar_subquery(),
            counted.order_by(Play.played_at.desc()).limit(1).scalar_subquery(),
            *raw,
        )
        day_plays, day_ms, first, last, raw_count, raw_ms = (await session.execute(summed)).one()
        plays, ms = int(day_plays) + int(raw_count), int(day_ms) + int(raw_ms)
        distinct = await self._distinct(session, scope, "track") if plays and distinct_tracks else 0
        return Totals(plays, ms, distinct, first, last)

    async def first_play(self, session: AsyncSession, scope: PlayScope) -> datetime | None:
        """When the scope's first counted play ended, or None without plays."""
        return await self._raw.first_play(session, scope)

    async def plays_by_source(self, session: AsyncSession, scope: PlayScope) -> dict[str, int]:
        """Plays per source."""
        cover = await self._days(session, scope)
        stmt = select(
            func.coalesce(func.sum(ListeningDay.api_plays), 0),
            func.coalesce(func.sum(ListeningDay.extended_export_plays), 0),
            func.coalesce(func.sum(ListeningDay.account_export_plays), 0),
        ).where(*self._day_rows(scope, cover))
        api, extended, account = (await session.execute(stmt)).one()
        counts: dict[str, int] = defaultdict(int)
        counts.update(
            {"api": int(api), "extended_export": int(extended), "account_export": int(account)}
        )
        for _played_at, _ms, source in await self._raw_plays(session, scope, cover):
            counts[source] += 1
        return {source: n for source, n in counts.items() if n}

    async def weekday_hour_counts(
        self, session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> list[tuple[int, int, int]]:
        """(local weekday with Monday 0, local hour, plays) of the non-empty hours of the week."""
        regimes = _Regimes.of(offsets)
        if regimes is None:
            return await self._raw.weekday_hour_counts(session, scope, offsets)
        cover = await self._days(session, scope)
        clauses = self._day_rows(scope, cover)
        counts: dict[int, int] = defaultdict(int)
        weekday = ((ListeningDay.day + 3) % 7).label("weekday")
        shift = regimes.day_hours(ListeningDay.day).label("shift")
        transitions = sorted(regimes.transition_days)
        grouped = (
            select(weekday, shift, *[func.sum(column) for column in _PLAY_HOURS])
            .where(*clauses, ListeningDay.day.not_in(transitions))
            .group_by(weekday, shift)
        )
        for row in (await session.execute(grouped)).all():
            day_of_week, hours_ahead = int(row[0]), int(row[1])
            for hour in HOURS:
                if row[2 + hour]:
                    counts[(day_of_week * 24 + hour + hours_ahead) % 168] += int(row[2 + hour])
        if regimes.transition_days:
            split = select(ListeningDay.day, *_PLAY_HOURS).where(
                *clauses, ListeningDay.day.in_(transitions)
            )
            for row in (await session.execute(split)).all():
                for hour in HOURS:
                    if row[1 + hour]:
                        seconds = int(row[0]) * SECONDS_PER_DAY + hour * 3600
                        local_hour = (seconds + regimes.offset_at(seconds)) // 3600
                        counts[(local_hour + 72) % 168] += int(row[1 + hour])
        for played_at, _ms, _source in await self._raw_plays(session, scope, cover):
            seconds = epoch_seconds(played_at)
            counts[((seconds + regimes.offset_at(seconds)) // 3600 + 72) % 168] += 1
        return [(how // 24, how % 24, n) for how, n in counts.items() if n]

    async def _local_day_totals(
        self, session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> dict[int, list[int]] | None:
        """local day number -> [plays, ms]; None when the zone is not on whole hours."""
        regimes = _Regimes.of(offsets)
        if regimes is None:
            return None
        cover = await self._days(session, scope)
        clauses = self._day_rows(scope, cover)
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        transitions = sorted(regimes.transition_days)
        # A UTC day at an offset of h hours: east of UTC its last h hours fall on the next
        # local date, west of it its first -h hours on the one before; the rest on its own.
        # The database sums those hours for each offset the window sees, this loop the days.
        shifts = sorted(set(regimes.hours))
        moved: list[ColumnElement[int]] = []
        for hours in shifts:
            moving = range(24 - hours, 24) if hours >= 0 else range(-hours)
            moved += [_hour_sum(_PLAY_HOURS, moving), _hour_sum(_MS_HOURS, moving)]
        stmt = select(ListeningDay.day, ListeningDay.plays, ListeningDay.ms_played, *moved).where(
            *clauses, ListeningDay.day.not_in(transitions)
        )
        boundaries, day_hours = regimes.boundaries, regimes.hours
        column = {hours: 3 + 2 * n for n, hours in enumerate(shifts)}
        for row in (await session.execute(stmt)).all():
            day = int(row[0])
            hours = day_hours[bisect.bisect_right(boundaries, day)]
            moved_plays, moved_ms = int(row[column[hours]]), int(row[column[hours] + 1])
            entry = totals[day]
            entry[0] += int(row[1]) - moved_plays
            entry[1] += int(row[2]) - moved_ms
            if moved_plays:
                entry = totals[day + 1 if hours >= 0 else day - 1]
                entry[0] += moved_plays
                entry[1] += moved_ms
        if regimes.transition_days:
            split = select(ListeningDay.day, *_PLAY_HOURS, *_MS_HOURS).where(
                *clauses, ListeningDay.day.in_(transitions)
            )
            for row in (await session.execute(split)).all():
                for hour in HOURS:
                    seconds = int(row[0]) * SECONDS_PER_DAY + hour * 3600
                    local_day = (seconds + regimes.offset_at(seconds)) // SECONDS_PER_DAY
                    totals[local_day][0] += int(row[1 + hour])
                    totals[local_day][1] += int(row[25 + hour])
        for played_at, ms, _source in await self._raw_plays(session, scope, cover):
            seconds = epoch_seconds(played_at)
            local_day = (seconds + regimes.offset_at(seconds)) // SECONDS_PER_DAY
            totals[local_day][0] += 1
            totals[local_day][1] += ms
        return totals

    async def local_days_with_plays(
        self, session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> int:
        """How many local calendar dates have at least one play."""
        totals = await self._local_day_totals(session, scope, offsets)
        if totals is None:
            return await self._raw.local_days_with_plays(session, scope, offsets)
        return sum(1 for plays, _ms in totals.values() if plays)

    async def daily_totals(
        self, session: AsyncSession, scope: PlayScope, offsets: UtcOffsets
    ) -> list[tuple[int, int, int]]:
        """(local day number since 1970, plays, ms) for every local day with plays."""
        totals = await self._local_day_totals(session, scope, offsets)
        if totals is None:
            return await self._raw.daily_totals(session, scope, offsets)
        return [(day, plays, ms) for day, (plays, ms) in sorted(totals.items()) if plays]

    # -- gaps -----------------------------------------------------------------------------

    async def largest_gaps(
        self, session: AsyncSession, scope: PlayScope, *, limit: int
    ) -> list[GapRow]:
        """The longest stretches between consecutive plays, longest first."""
        cover = await self._days(session, scope)
        unfolded_days = [
            day
            for day in await self._unfolded_days(session, scope)
            if (cover.lo is None or day >= cover.lo) and (cover.hi is None or day < cover.hi)
        ]
        clauses = self._day_rows(scope, cover)
        if not unfolded_days and len(self._kinds(scope)) == 1:
            found = await self._largest_gaps_in_sql(session, scope, cover, clauses, limit)
            if found is not None:
                return found
        if unfolded_days:
            clauses.append(ListeningDay.day.not_in(unfolded_days))
        stmt = select(
            ListeningDay.day,
            ListeningDay.plays,
            ListeningDay.first_played_at,
            ListeningDay.last_played_at,
            ListeningDay.longest_gap_after,
            ListeningDay.longest_gap_before,
            ListeningDay.second_gap_seconds,
        ).where(*clauses)
        days: dict[int, _GapDay] = {}
        for day, plays, first, last, after, before, second in (await session.execute(stmt)).all():
            known = days.get(int(day))
            if known is None:
                days[int(day)] = _GapDay(int(plays), first, last, after, before, int(second))
            else:  # a second kind on the same day: its inner gaps are not known
                days[int(day)] = known.merged(int(plays), first, last)
        points: list[datetime] = [
            played_at for played_at, _ms, _s in await self._raw_plays(session, scope, cover)
        ]
        # Unfolded plays are among the raw ones; their days' folded plays are read too.
        for day in unfolded_days:
            points.extend(await self._day_plays(session, scope, day))
        gaps = _gap_candidates(days, points)
        threshold = gaps[limit - 1].seconds if len(gaps) >= limit else -1
        hidden = [day for day, info in days.items() if info.may_hide(threshold)]
        if hidden:
            for day in hidden:
                del days[day]
                points.extend(await self._day_plays(session, scope, day))
            gaps = _gap_candidates(days, points)
        return gaps[:limit]

    async def _largest_gaps_in_sql(
        self,
        session: AsyncSession,
        scope: PlayScope,
        cover: Cover,
        clauses: list[ColumnElement[bool]],
        limit: int,
    ) -> list[GapRow] | None:
        """The longest gaps from the day rows' top lists and the raw edges; None if no day row."""
        day = ListeningDay
        bounds = select(func.min(day.first_played_at), func.max(day.last_played_at)).where(*clauses)
        row = (await session.execute(bounds)).one()
        first: datetime | None = row[0]
        last: datetime | None = row[1]
        if first is None or last is None:
            return None
        ordered = (
            select(
                day.first_played_at.label("before"),
                func.lag(day.last_played_at, type_=day.last_played_at.type)
                .over(order_by=day.day)
                .label("after"),
                (day.day - func.lag(day.day).over(order_by=day.day)).label("apart"),
            )
            .where(*clauses)
            .cte("ordered")
        )
        # Days k apart are more than k - 1 and less than k + 1 days of gap apart. Only pairs
        # at least K - 1 days apart, where K is the `limit`-th largest distance, can make
        # the list: the exact seconds (parsed timestamps) are computed for those alone.
        kth_apart = (
            select(ordered.c.apart)
            .where(ordered.c.apart.is_not(None))
            .order_by(ordered.c.apart.desc())
            .limit(1)
            .offset(limit - 1)
            .scalar_subquery()
        )
        across = EpochSeconds(ordered.c.before) - EpochSeconds(ordered.c.after)
        between_days = (
            select(ordered.c.after, ordered.c.before, across, literal(None))
            .where(
                ordered.c.after.is_not(None),
                ordered.c.apart >= func.coalesce(kth_apart, 0) - 1,
            )
            .order_by(across.desc(), ordered.c.after)
            .limit(limit)
        )
        gaps: list[tuple[GapRow, int | None]] = []
        for after, before, seconds, on_day in (await session.execute(between_days)).all():
            gaps.append((GapRow(after, before, int(seconds)), on_day))
        # A gap inside one UTC day is shorter than a day: past `limit` longer ones, none counts.
        if len(gaps) < limit or gaps[-1][0].seconds < SECONDS_PER_DAY:
            inner = EpochSeconds(day.longest_gap_before) - EpochSeconds(day.longest_gap_after)
            within_days = (
                select(day.longest_gap_after, day.longest_gap_before, inner, day.day)
                .where(*clauses, day.longest_gap_after.is_not(None))
                .order_by(inner.desc(), day.longest_gap_after)
                .limit(limit)
            )
            rows: Sequence[Any] = (await session.execute(within_days)).all()
            for after, before, seconds, on_day in rows:
                gaps.append((GapRow(after, before, int(seconds)), on_day))
        points = sorted(p for p, _ms, _s in await self._raw_plays(session, scope, cover))
        timeline = (
            [p for p in points if p < first] + [first, last] + [p for p in points if p > last]
        )
        gaps.extend(
            (GapRow(a, b, epoch_seconds(b) - epoch_seconds(a)), None)
            for a, b in itertools.pairwise(timeline)
            if (a, b) != (first, last)
        )
        gaps.sort(key=lambda gap: (-gap[0].seconds, gap[0].after))
        threshold = gaps[limit - 1][0].seconds if len(gaps) >= limit else -1
        # A day whose second longest gap reaches the list may hide more: read its plays.
        hidden: set[int] = set()
        if threshold < SECONDS_PER_DAY:
            hiding = select(day.day).where(
                *clauses, day.plays >= 3, day.second_gap_seconds >= threshold
            )
            hidden = {int(d) for d in (await session.execute(hiding)).scalars()}
        found = [gap for gap, on_day in gaps if on_day is None or int(on_day) not in hidden]
        for hidden_day in sorted(hidden):
            plays = sorted(await self._day_plays(session, scope, hidden_day))
            found.extend(
                GapRow(a, b, epoch_seconds(b) - epoch_seconds(a))
                for a, b in itertools.pairwise(plays)
            )
        found.sort(key=lambda gap: (-gap.seconds, gap.after))
        return found[:limit]

    async def _unfolded_days(self, session: AsyncSession, scope: PlayScope) -> list[int]:
        """UTC days of the window holding unfolded plays."""
        if not await self._has_unfolded(session):
            return []
        day = UtcDay(Play.played_at)
        stmt = (
            select(day)
            .where(*self._raw_where(scope, RawPart(scope.start, scope.end, folded=False)))
            .distinct()
        )
        return sorted(int(d) for d in (await session.execute(stmt)).scalars())

    async def _day_plays(self, session: AsyncSession, scope: PlayScope, day: int) -> list[datetime]:
        """End times of the scope's folded counted plays on one whole UTC day of the window."""
        part = RawPart(day_start(day), day_start(day + 1))
        stmt = select(Play.played_at).where(*self._raw_where(scope, part))
        return list((await session.execute(stmt)).scalars())

    # -- first listens --------------------------------------------------------------------

    async def _unfolded_firsts(
        self, session: AsyncSession, scope: PlayScope, kind: Kind
    ) -> dict[str, tuple[datetime, datetime | None]]:
        """id -> (first unfolded play, first folded play) of the ids with unfolded plays."""
        if not await self._has_unfolded(session):
            return {}
        part = RawPart(None, scope.end, folded=False)
        if kind == "track":
            key: Any = Play.track_id
            stmt = select(key, func.min(Play.played_at)).where(*self._raw_where(scope, part))
        else:
            key = TrackArtist.artist_id
            stmt = (
                select(key, func.min(Play.played_at))
                .join(TrackArtist, TrackArtist.track_id == Play.track_id)
                .where(*self._raw_where(scope, part))
            )
        stmt = stmt.group_by(key)
        unfolded = {r[0]: r[1] for r in (await session.execute(stmt)).all()}
        if not unfolded:
            return {}
        table: Any = ListeningTrack if kind == "track" else ListeningArtist
        table_key = table.track_id if kind == "track" else table.artist_id
        folded_stmt = (
            select(table_key, func.min(table.first_played_at))
            .where(
                table.user_id == self._user_id,
                table.item_kind.in_(self._kinds(scope)),
                self._among(table_key, list(unfolded)),
            )
            .group_by(table_key)
        )
        folded = {r[0]: r[1] for r in (await session.execute(folded_stmt)).all()}
        return {key_id: (first, folded.get(key_id)) for key_id, first in unfolded.items()}

    async def _first_heard_count(
        self, session: AsyncSession, scope: PlayScope, kind: Kind, since: datetime
    ) -> int:
        table: Any = ListeningTrack if kind == "track" else ListeningArtist
        key = table.track_id if kind == "track" else table.artist_id
        kinds = self._kinds(scope)
        if len(kinds) == 1:  # one row per id: count a range of the first-listen index
            counted = select(func.count()).where(
                table.user_id == self._user_id,
                table.item_kind == kinds[0],
                table.first_played_at >= since,
            )
            if scope.end is not None:
                counted = counted.where(table.first_played_at < scope.end)
        else:
            first = func.min(table.first_played_at)
            firsts = (
                select(key, first.label("first"))
                .where(table.user_id == self._user_id, table.item_kind.in_(kinds))
                .group_by(key)
                .having(first >= since)
            )
            if scope.end is not None:
                firsts = firsts.having(first < scope.end)
            counted = select(func.count()).select_from(firsts.subquery())
        count = int((await session.execute(counted)).scalar_one())
        for unfolded, folded in (await self._unfolded_firsts(session, scope, kind)).values():
            true_first = min(unfolded, folded) if folded is not None else unfolded
            count += _inside(true_first, since, scope.end) - _inside(folded, since, scope.end)
        return count

    async def new_tracks(self, session: AsyncSession, scope: PlayScope, since: datetime) -> int:
        """Tracks first heard (ever) at or after `since` and before the scope's end."""
        return await self._first_heard_count(session, scope, "track", since)

    async def new_artists(self, session: AsyncSession, scope: PlayScope, since: datetime) -> int:
        """Artists first heard (ever) at or after `since` and before the scope's end."""
        return await self._first_heard_count(session, scope, "artist", since)

    async def discovered(
        self, session: AsyncSession, scope: PlayScope, kind: Kind, *, limit: int
    ) -> list[DiscoveredRow]:
        """Artists or tracks first heard inside the window, most played there first."""
        if await self._has_unfolded(session):
            return await self._raw.discovered(session, scope, kind, limit=limit)
        table: Any = ListeningTrack if kind == "track" else ListeningArtist
        key = table.track_id if kind == "track" else table.artist_id
        kinds = self._kinds(scope)
        _start, end = await self._window(session, scope)
        if end is None and len(kinds) == 1:
            # One row per id; without plays after the window, all its plays are inside.
            direct = select(key, table.first_played_at, table.plays, table.ms_played).where(
                table.user_id == self._user_id, table.item_kind == kinds[0]
            )
            if scope.start is not None:
                direct = direct.where(table.first_played_at >= scope.start)
            direct = direct.order_by(
                table.plays.desc(), table.ms_played.desc(), table.first_played_at, key
            ).limit(limit)
            return [
                DiscoveredRow(r[0], r[1], int(r[2]), int(r[3]))
                for r in (await session.execute(direct)).all()
            ]
        first = func.min(table.first_played_at).label("first")
        heard = (
            select(key.label("id"), first)
            .where(table.user_id == self._user_id, table.item_kind.in_(self._kinds(scope)))
            .group_by(key)
        )
        if scope.start is not None:
            heard = heard.having(func.min(table.first_played_at) >= scope.start)
        if scope.end is not None:
            heard = heard.having(func.min(table.first_played_at) < scope.end)
        heard_sub = heard.subquery()
        if end is None:
            totals = (
                select(
                    key.label("id"),
                    func.sum(table.plays).label("plays"),
                    func.sum(table.ms_played).label("ms"),
                )
                .where(table.user_id == self._user_id, table.item_kind.in_(self._kinds(scope)))
                .group_by(key)
                .subquery()
            )
        else:
            # Every play of a track first heard inside the window is at or after its start.
            cover = await self._months(session, scope)
            totals = self._sums(self._entity_parts(scope, kind, cover))
        stmt = (
            select(heard_sub.c.id, heard_sub.c.first, totals.c.plays, totals.c.ms)
            .join(totals, totals.c.id == heard_sub.c.id)
            .order_by(totals.c.plays.desc(), totals.c.ms.desc(), heard_sub.c.first, heard_sub.c.id)
            .limit(limit)
        )
        return [
            DiscoveredRow(r[0], r[1], int(r[2]), int(r[3]))
            for r in (await session.execute(stmt)).all()
        ]

    async def discovery_counts(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        offsets: UtcOffsets,
        buckets: LocalBuckets,
    ) -> list[int]:
        """How many artists or tracks were first heard in each local bucket of the window."""
        if await self._has_unfolded(session) or (kind == "artist" and scope.include_episodes):
            # An artist heard in two kinds is counted on each kind's day row.
            return await self._raw.discovery_counts(session, scope, kind, offsets, buckets)
        counts = [0] * len(buckets.starts)
        # Instants where a bucket or the window begins or ends, inside a UTC day: the day's
        # first listens are split there, by counting those before each cut.
        cuts = sorted(
            {
                moment
                for moment in (*buckets.instants, scope.start, scope.end)
                if moment is not None and moment != day_start(day_of(moment))
            }
        )
        before = await self._firsts_before(session, scope, kind, cuts)
        day_cuts: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        for cut, n in zip(cuts, before, strict=True):
            day_cuts[day_of(cut)].append((cut, n))
        column = ListeningDay.new_items if kind == "track" else ListeningDay.new_artists
        stmt = select(ListeningDay.day, func.sum(column)).where(
            ListeningDay.user_id == self._user_id,
            ListeningDay.item_kind.in_(self._kinds(scope)),
            column > 0,
        )
        if scope.start is not None:
            stmt = stmt.where(ListeningDay.day >= day_of(scope.start))
        if scope.end is not None:
            stmt = stmt.where(ListeningDay.day <= day_of(scope.end))
        # A day without a cut lies whole in one bucket, inside the window or not: placed by
        # its first microsecond (a whole history has thousands of such days).
        instants = [_micros(moment) for moment in buckets.instants]
        first = None if scope.start is None else _micros(scope.start)
        after = None if scope.end is None else _micros(scope.end)
        for day, total in (await session.execute(stmt.group_by(ListeningDay.day))).all():
            if int(day) not in day_cuts:
                begins = int(day) * _MICROS_PER_DAY
                bucket = bisect.bisect_right(instants, begins) - 1
                outside = (first is not None and begins < first) or (
                    after is not None and begins >= after
                )
                if bucket >= 0 and not outside:
                    counts[bucket] += int(total)
                continue
            marks = [(day_start(int(day)), 0), *day_cuts.get(int(day), []), (None, int(total))]
            for (since, counted), (_until, counted_next) in itertools.pairwise(marks):
                assert since is not None
                index = buckets.index_of_instant(since)
                inside = _inside(since, scope.start, scope.end)
                if counted_next > counted and index is not None and inside:
                    counts[index] += counted_next - counted
        return counts

    async def _firsts_before(
        self, session: AsyncSession, scope: PlayScope, kind: Kind, cuts: list[datetime]
    ) -> list[int]:
        """For each cut, how many ids were first heard on its UTC day before it."""
        if not cuts:
            return []
        table: Any = ListeningTrack if kind == "track" else ListeningArtist
        # The cuts travel as one value (a JSON array on SQLite, arrays on PostgreSQL): a
        # whole history has a cut per local month or week, hundreds of them.
        days = [day_start(day_of(cut)) for cut in cuts]
        rows: Any
        if self._sqlite:
            listed = orjson.dumps(
                [
                    [n, sqlite_timestamp(day), sqlite_timestamp(cut)]
                    for n, (day, cut) in enumerate(zip(days, cuts, strict=True))
                ]
            ).decode()
            each = func.json_each(bindparam(None, listed, type_=String)).table_valued("value")
            rows = select(
                func.json_extract(each.c.value, "$[0]").label("position"),
                func.json_extract(each.c.value, "$[1]").label("since"),
                func.json_extract(each.c.value, "$[2]").label("until"),
            ).subquery()
        else:
            rows = (
                func.unnest(
                    bindparam(None, list(range(len(cuts))), type_=ARRAY(Integer)),
                    bindparam(None, days, type_=ARRAY(DateTime(timezone=True))),
                    bindparam(None, cuts, type_=ARRAY(DateTime(timezone=True))),
                )
                .table_valued("position", "since", "until")
                .render_derived()
            )
        stmt = (
            select(rows.c.position, func.count(table.first_played_at))
            .select_from(rows)
            .outerjoin(
                table,
                and_(
                    table.user_id == self._user_id,
                    table.item_kind.in_(self._kinds(scope)),
                    table.first_played_at >= rows.c.since,
                    table.first_played_at < rows.c.until,
                ),
            )
            .group_by(rows.c.position)
        )
        found = {int(p): int(n) for p, n in (await session.execute(stmt)).all()}
        return [found.get(position, 0) for position in range(len(cuts))]

    # -- comparing two periods ------------------------------------------------------------

    async def artist_shifts(
        self, session: AsyncSession, a: PlayScope, b: PlayScope, *, rising: bool, limit: int
    ) -> list[ShiftRow]:
        """Artists whose plays changed most from period B to period A."""
        # Rising artists gained at most their plays in A; falling ones lost at most those in B.
        grows, shrinks = (a, b) if rising else (b, a)
        grows_cover = await self._months(session, grows)
        shrinks_cover = await self._months(session, shrinks)
        ranking = _Ranking(
            limit,
            minimum=1,
            value=lambda row: int(row[1]) - int(row[2]),
            order=lambda row: (row[2] - row[1], -row[1], row[0]),
        )
        async for candidates, bound in self._candidate_rounds(
            session, grows, "artist", grows_cover, limit, False
        ):
            gained = await self._exact(
                session, grows, "artist", grows_cover, candidates, primary_only=False
            )
            ids = [row[0] for row in gained]
            lost = (
                {
                    row[0]: row[1]
                    for row in await self._exact(
                        session, shrinks, "artist", shrinks_cover, ids, primary_only=False
                    )
                }
                if ids
                else {}
            )
            ranking.offer([(row[0], row[1], lost.get(row[0], 0)) for row in gained])
            if bound is None or ranking.settled(bound):
                break
        rows = ranking.best()
        names = await self._raw.artist_names_by_id(session, [r[0] for r in rows])
        return [
            ShiftRow(
                r[0],
                names.get(r[0], r[0]),
                int(r[1] if rising else r[2]),
                int(r[2] if rising else r[1]),
            )
            for r in rows
        ]

    async def compare_artists(
        self, session: AsyncSession, a: PlayScope, b: PlayScope, *, limit: int
    ) -> ArtistComparison:
        """Top artists and artist counts of periods A and B, and the artists that changed most.

        Periods of up to about a year: one statement sums every artist's plays in A and in B
        (each period's months, quarters and years, added or taken away, and its raw edges),
        ranks them four ways and counts them. Longer ones: the same statement over only the
        artists in the spans' own top lists, summed exactly by id, which also tells how deep
        each list went. An artist in none of them has in A at most the sum of the last plays
        of A's full lists; a riser gains at most its plays in A and a faller loses at most
        those in B: a list whose last entry beats its bound is certain. When one is not, every
        artist is summed after all. The whole history as either period: from the all-time
        rows, as `top_artists`.
        """
        scopes = (a, b)
        covers = (await self._months(session, a), await self._months(session, b))
        read = [await self._rows_read(session, cover) for cover in covers]
        if read[0] is None or read[1] is None:
            return await artist_comparison(self, session, a, b, limit=limit)
        # Periods of up to a year have few enough artists to sum them all.
        depth = None if read[0] + read[1] <= _COMPARE_ALL_ROWS else max(4 * limit, _COMPARE_DEPTH)
        found, heads, counts = await self._compare(session, scopes, covers, limit, depth)
        bounds = [0, 0]
        for period, full, least in heads:
            if full:
                bounds[period] += least
        values: list[tuple[int, Callable[[tuple[Any, ...]], int]]] = [
            (bounds[0], lambda row: int(row[1])),
            (bounds[1], lambda row: int(row[2])),
            (bounds[0], lambda row: int(row[1]) - int(row[2])),
            (bounds[1], lambda row: int(row[2]) - int(row[1])),
        ]
        if depth is not None and not all(
            bound < 1 or (len(rows) == limit and value(rows[-1]) > bound)
            for rows, (bound, value) in zip(found, values, strict=True)
        ):
            found, _, counts = await self._compare(session, scopes, covers, limit, None)
        if counts is None:
            counts = (
                await self._distinct(session, a, "artist"),
                await self._distinct(session, b, "artist"),
            )
        ids = {row[0] for listed_rows in found for row in listed_rows}
        names = await self._raw.artist_names_by_id(session, sorted(ids))

        def top(rows: list[tuple[Any, ...]], plays: int, ms: int) -> list[ArtistRow]:
            return [ArtistRow(r[0], names.get(r[0], r[0]), int(r[plays]), int(r[ms])) for r in rows]

        def shifts(rows: list[tuple[Any, ...]]) -> list[ShiftRow]:
            return [ShiftRow(r[0], names.get(r[0], r[0]), int(r[1]), int(r[2])) for r in rows]

        return ArtistComparison(
            top_a=top(found[0], 1, 3),
            top_b=top(found[1], 2, 4),
            distinct_a=counts[0],
            distinct_b=counts[1],
            risers=shifts(found[2]),
            fallers=shifts(found[3]),
        )

    async def _compare(
        self,
        session: AsyncSession,
        scopes: tuple[PlayScope, PlayScope],
        covers: tuple[Cover, Cover],
        limit: int,
        depth: int | None,
    ) -> tuple[list[list[tuple[Any, ...]]], list[tuple[int, bool, int]], tuple[int, int] | None]:
        """The four lists (top of A, top of B, risers, fallers) as (id, a, b, ms_a, ms_b), of
        the artists in the spans' top lists of `depth`, with per top list its period, length
        and last plays; or of every artist (`depth` None), with the artists of A and of B."""
        # Each period's plays read from `plays` (its raw edges and unfolded plays), once.
        raws = [
            union_all(*self._raw_entity_parts(scope, "artist", cover)).cte(f"raw_{period}")
            for period, (scope, cover) in enumerate(zip(scopes, covers, strict=True))
        ]
        heads = (
            None
            if depth is None
            else await self._compare_heads(session, scopes, covers, raws, limit, depth)
        )
        candidates = None if heads is None else select(heads.c.id)
        parts: list[AnySelect] = []
        for period, (scope, cover) in enumerate(zip(scopes, covers, strict=True)):
            spans = [
                self._span_part(scope, "artist", run, False, candidates)
                for run in await self._span_runs(session, cover)
            ]
            for part in [*spans, select(raws[period])]:
                # Each row's plays and ms in its period's columns, zero in the other's.
                columns = part.selected_columns
                plays = [columns.plays, literal(0)]
                ms = [columns.ms, literal(0)]
                if period:
                    plays.reverse()
                    ms.reverse()
                parts.append(
                    part.with_only_columns(
                        columns.id,
                        plays[0].label("a"),
                        plays[1].label("b"),
                        ms[0].label("ms_a"),
                        ms[1].label("ms_b"),
                    )
                )
        union = union_all(*parts).subquery()
        summed = select(
            union.c.id,
            func.sum(union.c.a).label("a"),
            func.sum(union.c.b).label("b"),
            func.sum(union.c.ms_a).label("ms_a"),
            func.sum(union.c.ms_b).label("ms_b"),
        ).group_by(union.c.id)
        if candidates is not None:
            # The raw edges hold other artists too: only the candidates are summed whole.
            summed = summed.having(union.c.id.in_(candidates))
        sums = summed.cte("sums")
        gain, loss = sums.c.a - sums.c.b, sums.c.b - sums.c.a
        orders = [
            (sums.c.a > 0, (sums.c.a.desc(), sums.c.ms_a.desc(), sums.c.id)),
            (sums.c.b > 0, (sums.c.b.desc(), sums.c.ms_b.desc(), sums.c.id)),
            (gain > 0, (gain.desc(), sums.c.a.desc(), sums.c.id)),
            (loss > 0, (loss.desc(), sums.c.b.desc(), sums.c.id)),
        ]
        ranked: list[AnySelect] = [
            select(
                select(literal(n).label("list"), *sums.c)
                .where(condition)
                .order_by(*order)
                .limit(limit)
                .subquery()
            )
            for n, (condition, order) in enumerate(orders)
        ]
        if heads is not None:
            ranked.append(
                select(
                    literal(len(orders)).label("list"),
                    literal(None, String).label("id"),
                    func.min(heads.c.period),
                    func.count(),
                    func.min(heads.c.plays),
                    func.max(heads.c.depth),
                ).group_by(heads.c.list)
            )
        else:
            ranked.append(
                select(
                    literal(len(orders)).label("list"),
                    literal(None, String).label("id"),
                    func.coalesce(func.sum(case((sums.c.a > 0, 1), else_=0)), 0),
                    func.coalesce(func.sum(case((sums.c.b > 0, 1), else_=0)), 0),
                    literal(0),
                    literal(0),
                )
            )
        found: list[list[tuple[Any, ...]]] = [[] for _ in orders]
        listed: list[tuple[int, bool, int]] = []
        counts = None
        for row in (await session.execute(union_all(*ranked))).all():
            if int(row[0]) < len(orders):
                found[int(row[0])].append(row[1:])
            elif heads is not None:
                listed.append((int(row[2]), int(row[3]) == int(row[5]), int(row[4])))
            else:
                counts = (int(row[2]), int(row[3]))
        return found, listed, counts

    async def _compare_heads(
        self,
        session: AsyncSession,
        scopes: tuple[PlayScope, PlayScope],
        covers: tuple[Cover, Cover],
        raws: list[Any],
        limit: int,
        depth: int,
    ) -> Any:
        """CTE of (list, period, depth, id, plays): the top lists of the spans each period
        adds and of its raw edges (`raws`)."""
        lists: list[AnySelect] = []
        for period, (scope, cover) in enumerate(zip(scopes, covers, strict=True)):
            runs = [run for run in await self._span_runs(session, cover) if run.sign > 0]
            # A year's list goes deep; a month's or a quarter's holds fewer plays per entry,
            # so a shallower one bounds as well.
            shallow = min(depth, max(4 * limit, _HEAD_DEPTH))
            for run in runs:
                deep = depth if run.months == 12 else shallow
                lists.extend(
                    self._span_head(
                        "artist",
                        self._kinds(scope),
                        run,
                        first,
                        deep,
                        False,
                        literal(period).label("period"),
                        literal(deep).label("depth"),
                    )
                    for first in range(run.first, run.last + 1, run.months)
                )
            lists.append(_added_head(raws[period], period, shallow))
        numbered = [
            select(literal(n).label("list"), *head.subquery().c) for n, head in enumerate(lists)
        ]
        return union_all(*numbered).cte("heads")

    # -- one artist or track --------------------------------------------------------------

    async def _candidates(
        self,
        session: AsyncSession,
        scope: PlayScope,
        kind: Kind,
        matching: AnySelect,
        limit: int,
    ) -> list[CandidateRow]:
        """Artists or tracks whose ids satisfy `matching`, with their counted plays."""
        cover = await self._months(session, scope)
        sums = self._sums(self._entity_parts(scope, kind, cover, ids=matching), matching)
        named: Any = Artist if kind == "artist" else Track
        stmt = (
            select(sums.c.id, named.name, sums.c.plays)
            .join(named, named.id == sums.c.id)
            .order_by(sums.c.plays.desc(), named.name, sums.c.id)
            .limit(limit)
        )
        return [CandidateRow(r[0], r[1], int(r[2])) for r in (await session.execute(stmt)).all()]

    async def artist_candidates(
        self, session: AsyncSession, scope: PlayScope, name: str, *, exact: bool, limit: int
    ) -> list[CandidateRow]:
        """Heard artists named `name` (or containing it), most played first."""
        pattern = like_pattern(name) if exact else f"%{like_pattern(name)}%"
        matching = select(Artist.id).where(Artist.name.ilike(pattern, escape="\\"))
        return await self._candidates(session, scope, "artist", matching, limit)

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
        pattern = like_pattern(name) if exact else f"%{like_pattern(name)}%"
        tracks = select(Track.id).where(Track.name.ilike(pattern, escape="\\"))
        if artist:
            credited = (
                select(TrackArtist.track_id)
                .join(Artist, Artist.id == TrackArtist.artist_id)
                .where(Artist.name.ilike(f"%{like_pattern(artist)}%", escape="\\"))
            )
            tracks = tracks.where(Track.id.in_(credited))
        return await self._candidates(session, scope, "track", tracks, limit)

    async def subject_stats(
        self, session: AsyncSession, scope: PlayScope, subject: Subject
    ) -> SubjectStats:
        """Counted plays of an artist or track in the scope: count, ms, first and last."""
        cover = await self._months(session, scope)
        only = [subject.id]
        sums = self._sums(self._entity_parts(scope, subject.kind, cover, ids=only), only)
        row = (await session.execute(select(sums.c.plays, sums.c.ms))).first()
        if row is None:
            return SubjectStats(0, 0, None, None)
        first = await self._extreme(session, scope, subject, last=False)
        last = await self._extreme(session, scope, subject, last=True)
        return SubjectStats(int(row[0]), int(row[1]), first, last)

    async def _extreme(
        self, session: AsyncSession, scope: PlayScope, subject: Subject, *, last: bool
    ) -> datetime | None:
        """The subject's first (or last) counted play in the scope."""
        key = (subject, last, scope)
        if key not in self._extremes:
            self._extremes[key] = await self._find_extreme(session, scope, subject, last=last)
        return self._extremes[key]

    async def _find_extreme(
        self, session: AsyncSession, scope: PlayScope, subject: Subject, *, last: bool
    ) -> datetime | None:
        """The all-time first (or last) play when it lies in the window, else month by month."""
        overall: Any = ListeningTrack if subject.kind == "track" else ListeningArtist
        overall_key = overall.track_id if subject.kind == "track" else overall.artist_id
        bounds = (
            await session.execute(
                select(func.min(overall.first_played_at), func.max(overall.last_played_at)).where(
                    overall.user_id == self._user_id,
                    overall_key == subject.id,
                    overall.item_kind.in_(self._kinds(scope)),
                )
            )
        ).one()
        folded_edge = bounds[1] if last else bounds[0]
        if folded_edge is not None and _inside(folded_edge, scope.start, scope.end):
            found: datetime | None = folded_edge
        elif folded_edge is None:
            found = None
        else:
            found = await self._extreme_by_months(session, scope, subject, last=last)
        unfolded = (
            await self._extreme_between(
                session, scope, subject, scope.start, scope.end, last=last, folded=False
            )
            if await self._has_unfolded(session)
            else None
        )
        candidates = [moment for moment in (found, unfolded) if moment is not None]
        if not candidates:
            return None
        return max(candidates) if last else min(candidates)

    async def _extreme_by_months(
        self, session: AsyncSession, scope: PlayScope, subject: Subject, *, last: bool
    ) -> datetime | None:
        """The subject's first (or last) folded play in the scope, found month by month."""
        table: Any = ListeningTrackMonth if subject.kind == "track" else ListeningArtistMonth
        key = table.track_id if subject.kind == "track" else table.artist_id
        months = select(table.month).where(
            table.user_id == self._user_id,
            key == subject.id,
            table.item_kind.in_(self._kinds(scope)),
        )
        if scope.start is not None:
            months = months.where(table.month >= month_of(scope.start))
        if scope.end is not None:
            months = months.where(table.month <= month_of(scope.end))
        months = months.distinct().order_by(table.month.desc() if last else table.month)
        found: datetime | None = None
        for month in (await session.execute(months)).scalars():
            found = await self._extreme_between(
                session,
                scope,
                subject,
                max(month_start(int(month)), scope.start)
                if scope.start
                else month_start(int(month)),
                min(month_start(int(month) + 1), scope.end)
                if scope.end
                else month_start(int(month) + 1),
                last=last,
                folded=True,
            )
            if found is not None:
                break
        return found

    async def _extreme_between(
        self,
        session: AsyncSession,
        scope: PlayScope,
        subject: Subject,
        start: datetime | None,
        end: datetime | None,
        *,
        last: bool,
        folded: bool,
    ) -> datetime | None:
        part = RawPart(start, end, folded=folded)
        stmt = (
            select(Play.played_at)
            .where(subject.condition(), *self._raw_where(scope, part))
            .order_by(Play.played_at.desc() if last else Play.played_at)
            .limit(1)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def edge_play(
        self, session: AsyncSession, scope: PlayScope, subject: Subject, *, last: bool
    ) -> PlayRow | None:
        """The first (or last) counted play of an artist or track in the scope."""
        moment = await self._extreme(session, scope, subject, last=last)
        if moment is None:
            return None
        at = PlayScope(
            user_id=scope.user_id,
            start=moment,
            end=moment + timedelta(microseconds=1),
            min_ms=scope.min_ms,
            include_episodes=scope.include_episodes,
        )
        return await self._raw.edge_play(session, at, subject, last=last)


_HEAD_DEPTH = 40
"""How many entries of each list the first round of a top list reads."""
_COMPARE_ALL_ROWS = 12.0
"""Periods whose spans read up to this many months' worth of rows together (a year against the
year before) are compared over all their artists at once; longer ones over the spans' top
lists first (measured: building and reading the lists costs more below it)."""
_COMPARE_DEPTH = 100
"""How deep the spans' top lists a comparison reads go, at least (a faller's loss is often far
below the plays of the artists at the top of the lists of period B)."""
_MAX_CANDIDATES = 2_000
"""Beyond this many candidates a top list sums the whole window instead."""
_SUM_ALL_ROWS: dict[Kind, float] = {"artist": 9.0, "track": 3.0}
"""A top list over spans of up to this many months' worth of rows is summed whole in one
statement (a year of artists; tracks, which come back less, over a quarter); over more, the
spans' own top lists bound the list."""


def _added_head(raw: Any, period: int, depth: int) -> AnySelect:
    """SELECT of (period, depth, id, plays) of the `depth` ids with the most plays added by the raw
    parts in `raw` (signed rows of (id, plays, ms); rows taken away are not counted)."""
    added = func.sum(case((raw.c.plays > 0, raw.c.plays), else_=0))
    return (
        select(
            literal(period).label("period"),
            literal(depth).label("depth"),
            raw.c.id,
            added.label("plays"),
        )
        .group_by(raw.c.id)
        .having(added > 0)
        .order_by(added.desc(), raw.c.id)
        .limit(depth)
    )


def _entity_columns(
    kind: Kind, *, all_time: bool, primary: bool, span: bool = False
) -> tuple[Any, Any, Any, Any]:
    """(columns, id, plays, ms) of the per-track or per-artist summaries: of the whole history,
    per month, or per quarter and year (`span`).

    The table's Core columns, not the mapped attributes: the statements built from them are
    many and large, and a comparison of a Core column costs about half as much to build."""
    model: Any
    if kind == "track":
        model = ListeningTrack if all_time else ListeningTrackSpan if span else ListeningTrackMonth
        table = model.__table__.c
        return table, table.track_id, table.plays, table.ms_played
    model = ListeningArtist if all_time else ListeningArtistSpan if span else ListeningArtistMonth
    table = model.__table__.c
    if primary:
        return table, table.artist_id, table.primary_plays, table.primary_ms_played
    return table, table.artist_id, table.plays, table.ms_played


@dataclass
class _Known:
    """Exact plays and ms in one window of the ids asked about so far (of all, if complete)."""

    values: dict[str, tuple[int, int]] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)
    complete: bool = False


class _Ranking:
    """The best rows offered so far by `order`, among those whose value is at least `minimum`."""

    def __init__(
        self,
        limit: int,
        *,
        minimum: int,
        value: Callable[[tuple[Any, ...]], int],
        order: Callable[[tuple[Any, ...]], Any],
    ) -> None:
        self.limit = limit
        self._minimum = minimum
        self._value = value
        self._order = order
        self._rows: dict[str, tuple[Any, ...]] = {}

    def offer(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Consider exact rows, the id first."""
        for row in rows:
            self._rows[row[0]] = row

    def best(self) -> list[tuple[Any, ...]]:
        """The list so far."""
        kept = (row for row in self._rows.values() if self._value(row) >= self._minimum)
        return sorted(kept, key=self._order)[: self.limit]

    def settled(self, bound: int) -> bool:
        """Whether no row whose value is at most `bound` can still enter the list."""
        if bound < self._minimum:
            return True
        best = self.best()
        return len(best) == self.limit and self._value(best[-1]) > bound


_MICROS_PER_DAY = 86_400_000_000


def _micros(moment: datetime) -> int:
    """Microseconds since 1970 of an instant."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def _inside(moment: datetime | None, start: datetime | None, end: datetime | None) -> int:
    """1 when `moment` lies in [start, end) (None: open), else 0."""
    if moment is None:
        return 0
    if start is not None and moment < start:
        return 0
    if end is not None and moment >= end:
        return 0
    return 1


@dataclass(frozen=True)
class _GapDay:
    """What a day row tells about gaps: its first and last play and its inner gaps."""

    plays: int
    first: datetime
    last: datetime
    gap_after: datetime | None
    gap_before: datetime | None
    second_gap: int
    inner_known: bool = True

    def merged(self, plays: int, first: datetime, last: datetime) -> _GapDay:
        """The day with another kind's row added: inner gaps become unknown."""
        return _GapDay(
            self.plays + plays,
            min(self.first, first),
            max(self.last, last),
            None,
            None,
            0,
            inner_known=False,
        )

    def may_hide(self, threshold: int) -> bool:
        """Whether an inner gap not listed could be at least `threshold` seconds long."""
        if not self.inner_known:
            return epoch_seconds(self.last) - epoch_seconds(self.first) >= threshold
        return self.plays >= 3 and self.second_gap >= threshold


def _gap_candidates(days: dict[int, _GapDay], points: list[datetime]) -> list[GapRow]:
    """Gaps between consecutive days or plays and each day's longest inner gap, longest first."""
    segments: list[tuple[datetime, datetime, _GapDay | None]] = [
        (info.first, info.last, info) for info in days.values()
    ]
    segments.extend((moment, moment, None) for moment in points)
    segments.sort(key=lambda segment: (segment[0], segment[1]))
    gaps: list[GapRow] = []
    previous: datetime | None = None
    for first, last, info in segments:
        if previous is not None:
            gaps.append(GapRow(previous, first, epoch_seconds(first) - epoch_seconds(previous)))
        if info is not None and info.inner_known and info.gap_after and info.gap_before:
            seconds = epoch_seconds(info.gap_before) - epoch_seconds(info.gap_after)
            gaps.append(GapRow(info.gap_after, info.gap_before, seconds))
        previous = last if previous is None else max(previous, last)
    gaps.sort(key=lambda gap: (-gap.seconds, gap.after))
    return gaps
