"""`ListeningSummaries`: keeps the listening summary tables in step with the plays.

The summaries hold the plays that count by default (at least 30 s) with an id up to a
watermark: per UTC day and kind (with hourly detail), per track, per artist, and per track and
artist and UTC month, quarter and year (the quarters and years summed again from the months
of the tracks and artists a fold touched), and per month, quarter and year how many month rows
link back to each earlier month (counted again from the earliest month a fold touched). Plays
are only ever inserted, or deleted along with their user or import, and a new play always gets
a higher id than every play before it, even when it ended long ago; so folding in the plays
above the watermark keeps the summaries exact. Deleting or changing a folded play marks its
user for a rebuild (a trigger of migration 0004).

The fold runs at query time, in its own short transaction when the caller's session sits on an
engine (so the caller's transaction stays read-only), and waits for the plays table to be free
of writers on PostgreSQL, where ids are handed out before their transactions commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.history.queries import EpochSeconds
from app.history.schemas import DEFAULT_MIN_MS
from shared.db.base import utc_now
from shared.db.enums import ItemKind, PlaySource
from shared.db.models import (
    LINK_SPANS,
    NO_PREVIOUS_MONTH,
    SPAN_MONTHS,
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
    TrackArtist,
    User,
)

logger = logging.getLogger(__name__)

SUMMARY_MIN_MS = DEFAULT_MIN_MS
"""The summaries count plays of at least this many ms; other thresholds read the plays."""
SECONDS_PER_DAY = 86_400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK = 500
LOCK_TIMEOUT = "5s"
"""How long a fold waits on PostgreSQL for inserts into `plays` in flight to commit."""
CONNECT_TIMEOUT_SECONDS = 0.25
"""How long a fold at question time waits for a connection of its own. Every connection may
be held by a question waiting on this fold: then it is left for later, not waited for."""

_SUMMARY_TABLES: tuple[type[Any], ...] = (
    ListeningDay,
    ListeningTrack,
    ListeningArtist,
    ListeningTrackMonth,
    ListeningArtistMonth,
    ListeningTrackSpan,
    ListeningArtistSpan,
    ListeningLinkCount,
)


class UtcDay(FunctionElement[int]):
    """Days since 1970-01-01 of a UTC timestamp column, on either dialect."""

    type = Integer()
    name = "utc_day"
    inherit_cache = True


@compiles(UtcDay, "postgresql")
def _utc_day_postgresql(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / 86400) AS INTEGER)"


@compiles(UtcDay, "sqlite")
def _utc_day_sqlite(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%s', {column}) AS INTEGER) / 86400"


class UtcHour(FunctionElement[int]):
    """The UTC hour (0-23) of a UTC timestamp column, on either dialect."""

    type = Integer()
    name = "utc_hour"
    inherit_cache = True


@compiles(UtcHour, "postgresql")
def _utc_hour_postgresql(element: UtcHour, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(HOUR FROM {column} AT TIME ZONE 'UTC') AS INTEGER)"


@compiles(UtcHour, "sqlite")
def _utc_hour_sqlite(element: UtcHour, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%H', {column}) AS INTEGER)"


class UtcMonth(FunctionElement[int]):
    """year * 12 + month - 1 of a UTC timestamp column, on either dialect."""

    type = Integer()
    name = "utc_month"
    inherit_cache = True


@compiles(UtcMonth, "postgresql")
def _utc_month_postgresql(element: UtcMonth, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    utc = f"({column} AT TIME ZONE 'UTC')"
    return f"CAST(EXTRACT(YEAR FROM {utc}) * 12 + EXTRACT(MONTH FROM {utc}) - 1 AS INTEGER)"


@compiles(UtcMonth, "sqlite")
def _utc_month_sqlite(element: UtcMonth, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%Y', {column}) AS INTEGER) * 12 "
        f"+ CAST(strftime('%m', {column}) AS INTEGER) - 1)"
    )


class Least(FunctionElement[Any]):
    """The smaller of two values (SQLite's two-argument min)."""

    name = "least"
    inherit_cache = True


class Greatest(FunctionElement[Any]):
    """The larger of two values (SQLite's two-argument max)."""

    name = "greatest"
    inherit_cache = True


@compiles(Least)
def _least(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(Greatest)
def _greatest(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(Least, "sqlite")
def _least_sqlite(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


@compiles(Greatest, "sqlite")
def _greatest_sqlite(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


def day_start(day: int) -> datetime:
    """The first instant of a UTC day number."""
    return EPOCH + timedelta(days=day)


def day_of(moment: datetime) -> int:
    """The UTC day number of an instant."""
    return (moment - EPOCH) // timedelta(days=1)


def month_of(moment: datetime) -> int:
    """The UTC month number (year * 12 + month - 1) of an instant."""
    utc = moment.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def month_start(month: int) -> datetime:
    """The first instant of a UTC month number."""
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970 (floored), as the SQL of the raw answers computes them."""
    return (moment - EPOCH) // timedelta(seconds=1)


@dataclass(frozen=True)
class SummaryView:
    """The summaries as the caller's transaction sees them, and the newest play id it sees."""

    rolled_up_to: int
    version: int
    newest: int


@dataclass(frozen=True)
class SummaryState:
    """What one read of the summaries' state found for a user: the view, whether plays wait
    above the watermark, and whether the user awaits a rebuild."""

    view: SummaryView
    behind: bool
    stale: bool


def _upsert(
    dialect: str,
    table: Table,
    source: Select[*tuple[Any, ...]],
    columns: Sequence[str],
    keys: Sequence[str],
    extremes: dict[str, type[FunctionElement[Any]]],
) -> Any:
    """INSERT ... SELECT adding to the rows there: counts add up, first and last plays combine."""
    insert_into = sqlite.insert if dialect == "sqlite" else postgresql.insert
    statement = insert_into(table).from_select(list(columns), source)
    excluded = statement.excluded
    values: dict[str, Any] = {}
    for name in columns:
        if name in keys:
            continue
        combine = extremes.get(name)
        values[name] = (
            combine(table.c[name], excluded[name])
            if combine is not None
            else table.c[name] + excluded[name]
        )
    return statement.on_conflict_do_update(index_elements=list(keys), set_=values)


class ListeningSummaries:
    """Folds new plays into the summaries at query time and rebuilds users marked stale."""

    def __init__(self, *, fold_on_read: bool = True) -> None:
        self._lock = asyncio.Lock()
        self._fold_on_read = fold_on_read

    async def view(
        self, session: AsyncSession, user_id: int, state: SummaryState | None = None
    ) -> SummaryView | None:
        """The summaries for a question about `user_id`, folded first; None awaiting a rebuild.

        `state`: what `timezone_and_state` read in this transaction, instead of reading again.
        """
        current = state if state is not None else await self._read(session, user_id)
        if current is None:
            return None
        if not self._fold_on_read or (not current.behind and not current.stale):
            return None if current.stale else current.view
        await self._refresh_elsewhere(session)
        current = await self._read(session, user_id)
        if current is None or current.stale:
            return None
        return current.view

    async def timezone_and_state(
        self, session: AsyncSession, user_id: int
    ) -> tuple[str | None, SummaryState | None]:
        """The user's stored time zone (None: no such user) and the summaries' state, in one
        statement: a cached answer needs nothing more from the database."""
        state = ListeningSummaryState
        stmt = select(
            User.timezone,
            select(state.rolled_up_to).where(state.id == 1).scalar_subquery(),
            select(state.version).where(state.id == 1).scalar_subquery(),
            select(func.max(Play.id)).scalar_subquery(),
            exists().where(ListeningSummaryRebuild.user_id == user_id),
        ).where(User.id == user_id)
        row = (await session.execute(stmt)).first()
        if row is None:
            return None, None
        timezone, rolled_up_to, version, newest, stale = row
        if rolled_up_to is None:  # no summaries yet: answers come from the plays
            return str(timezone), None
        view = SummaryView(int(rolled_up_to), int(version), int(newest or 0))
        return str(timezone), SummaryState(view, view.newest > view.rolled_up_to, bool(stale))

    async def version(self, session: AsyncSession) -> int | None:
        """The summaries' version, which every fold increments."""
        stmt = select(ListeningSummaryState.version).where(ListeningSummaryState.id == 1)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def refresh(self, session: AsyncSession) -> None:
        """Fold every new play in and run pending rebuilds, in the session's transaction."""
        async with self._lock:
            await self._fold_all(session)

    async def _read(self, session: AsyncSession, user_id: int) -> SummaryState | None:
        return (await self.timezone_and_state(session, user_id))[1]

    async def _refresh_elsewhere(self, session: AsyncSession) -> None:
        """Fold in a transaction of its own (a savepoint on a test's connection), or not now."""
        async with self._lock:
            try:
                bind = session.bind
                if isinstance(bind, AsyncEngine):
                    connection = await asyncio.wait_for(
                        bind.connect().start(), CONNECT_TIMEOUT_SECONDS
                    )
                    try:
                        async with (
                            AsyncSession(connection, expire_on_commit=False) as own,
                            own.begin(),
                        ):
                            await self._fold_all(own)
                    finally:
                        await connection.close()
                else:
                    async with session.begin_nested():
                        await self._fold_all(session)
            except TimeoutError:
                logger.warning("listening summaries not brought up to date now: no free connection")
            except DBAPIError as exc:
                # Busy writers or a lock timeout: the answer reads the unfolded plays instead.
                logger.warning(
                    "listening summaries not brought up to date now: %s", exc.__class__.__name__
                )

    async def _fold_all(self, session: AsyncSession) -> None:
        """Run pending rebuilds and fold every play above the watermark, in `session`."""
        dialect = session.get_bind().dialect.name
        state = ListeningSummaryState
        if dialect == "postgresql":
            # Ids are handed out before their transactions commit: wait until no insert into
            # plays is in flight, so no play below the new watermark can still appear.
            await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            await session.execute(text("LOCK TABLE plays IN SHARE ROW EXCLUSIVE MODE"))
        else:
            # Write first, so the transaction holds SQLite's write lock before it reads.
            await session.execute(update(state).where(state.id == 1).values(version=state.version))
        row = (
            await session.execute(
                select(state.rolled_up_to, state.version).where(state.id == 1).with_for_update()
            )
        ).first()
        if row is None:
            await session.execute(
                insert(state).values(id=1, rolled_up_to=0, version=0, updated_at=utc_now())
            )
            rolled_up_to, version = 0, 0
        else:
            rolled_up_to, version = int(row[0]), int(row[1])
        newest = int((await session.execute(select(func.max(Play.id)))).scalar() or 0)
        # Deleting the newest plays lowers the watermark (trigger); never fold above `newest`.
        rolled_up_to = min(rolled_up_to, newest)
        stale = list((await session.execute(select(ListeningSummaryRebuild.user_id))).scalars())
        if not stale and newest == rolled_up_to:
            return
        for user_id in stale:
            for model in _SUMMARY_TABLES:
                await session.execute(delete(model).where(model.user_id == user_id))
            await self._fold(session, dialect, after=0, upto=rolled_up_to, user_id=user_id)
        if stale:
            await session.execute(delete(ListeningSummaryRebuild))
        if newest > rolled_up_to:
            await self._fold(session, dialect, after=rolled_up_to, upto=newest)
        await session.execute(
            update(state)
            .where(state.id == 1)
            .values(rolled_up_to=newest, version=version + 1, updated_at=utc_now())
        )

    async def _fold(
        self,
        session: AsyncSession,
        dialect: str,
        *,
        after: int,
        upto: int,
        user_id: int | None = None,
    ) -> None:
        """Add the counted plays with ids in (after, upto] to the summaries."""
        chosen: list[ColumnElement[bool]] = [
            Play.id > after,
            Play.id <= upto,
            Play.ms_played >= SUMMARY_MIN_MS,
        ]
        if user_id is not None:
            chosen.append(Play.user_id == user_id)
        earliest = {
            int(u): first
            for u, first in (
                await session.execute(
                    select(Play.user_id, func.min(Play.played_at))
                    .where(*chosen)
                    .group_by(Play.user_id)
                )
            ).all()
        }
        if not earliest:
            return
        for statement in self._entity_upserts(dialect, chosen):
            await session.execute(statement)
        for statement in self._previous_months(chosen, everything=after == 0, user_id=user_id):
            await session.execute(statement)
        for statement in self._span_rewrites(
            dialect, chosen, everything=after == 0, user_id=user_id
        ):
            await session.execute(statement)
        by_month: dict[int, list[int]] = defaultdict(list)
        for user, first in earliest.items():
            by_month[month_of(first)].append(user)
        for month, users in sorted(by_month.items()):
            for statement in self._link_counts(users, month):
                await session.execute(statement)
        days = await session.execute(
            select(Play.user_id, UtcDay(Play.played_at)).where(*chosen).distinct()
        )
        touched: dict[int, set[int]] = defaultdict(set)
        for user, day in days.all():
            touched[int(user)].add(int(day))
        for user, first in earliest.items():
            await self._rewrite_days(session, user, sorted(touched[user]), upto, day_of(first))

    @staticmethod
    def _entity_upserts(dialect: str, chosen: list[ColumnElement[bool]]) -> list[Any]:
        """The INSERT ... SELECT ... ON CONFLICT of the per-track and per-artist summaries."""
        counted = func.count()
        ms_played = func.sum(Play.ms_played)
        primary = TrackArtist.position == 0
        primary_plays = func.sum(case((primary, 1), else_=0))
        primary_ms = func.sum(case((primary, Play.ms_played), else_=0))
        month = UtcMonth(Play.played_at)
        extremes: dict[str, type[FunctionElement[Any]]] = {
            "first_played_at": Least,
            "last_played_at": Greatest,
        }
        tracks = (
            select(
                Play.user_id,
                Play.track_id,
                Play.item_kind,
                counted,
                ms_played,
                func.min(Play.played_at),
                func.max(Play.played_at),
            )
            .where(*chosen)
            .group_by(Play.user_id, Play.track_id, Play.item_kind)
        )
        artists = (
            select(
                Play.user_id,
                TrackArtist.artist_id,
                Play.item_kind,
                counted,
                ms_played,
                primary_plays,
                primary_ms,
                func.min(Play.played_at),
                func.max(Play.played_at),
            )
            .join(TrackArtist, TrackArtist.track_id == Play.track_id)
            .where(*chosen)
            .group_by(Play.user_id, TrackArtist.artist_id, Play.item_kind)
        )
        track_months = (
            select(Play.user_id, month, Play.track_id, Play.item_kind, counted, ms_played)
            .where(*chosen)
            .group_by(Play.user_id, month, Play.track_id, Play.item_kind)
        )
        artist_months = (
            select(
                Play.user_id,
                month,
                TrackArtist.artist_id,
                Play.item_kind,
                counted,
                ms_played,
                primary_plays,
                primary_ms,
            )
            .join(TrackArtist, TrackArtist.track_id == Play.track_id)
            .where(*chosen)
            .group_by(Play.user_id, month, TrackArtist.artist_id, Play.item_kind)
        )
        entity = ("plays", "ms_played", "first_played_at", "last_played_at")
        artist_columns = (
            "plays",
            "ms_played",
            "primary_plays",
            "primary_ms_played",
        )
        track_table = ListeningTrack.__table__
        artist_table = ListeningArtist.__table__
        track_month_table = ListeningTrackMonth.__table__
        artist_month_table = ListeningArtistMonth.__table__
        assert isinstance(track_table, Table)
        assert isinstance(artist_table, Table)
        assert isinstance(track_month_table, Table)
        assert isinstance(artist_month_table, Table)
        return [
            _upsert(
                dialect,
                track_table,
                tracks,
                ("user_id", "track_id", "item_kind", *entity),
                ("user_id", "track_id", "item_kind"),
                extremes,
            ),
            _upsert(
                dialect,
                artist_table,
                artists,
                ("user_id", "artist_id", "item_kind", *artist_columns, *entity[2:]),
                ("user_id", "artist_id", "item_kind"),
                extremes,
            ),
            _upsert(
                dialect,
                track_month_table,
                track_months,
                ("user_id", "month", "track_id", "item_kind", "plays", "ms_played"),
                ("user_id", "month", "track_id", "item_kind"),
                {},
            ),
            _upsert(
                dialect,
                artist_month_table,
                artist_months,
                ("user_id", "month", "artist_id", "item_kind", *artist_columns),
                ("user_id", "month", "artist_id", "item_kind"),
                {},
            ),
        ]

    @staticmethod
    def _previous_months(
        chosen: list[ColumnElement[bool]], *, everything: bool, user_id: int | None
    ) -> list[Any]:
        """UPDATEs setting `prev_month` on the month rows of the tracks and artists played (of
        every track and artist, or the user's, when `everything` was folded from scratch)."""
        touched_tracks = (
            select(Play.user_id, Play.track_id, Play.item_kind).where(*chosen).distinct()
        )
        touched_artists = (
            select(Play.user_id, TrackArtist.artist_id, Play.item_kind)
            .join(TrackArtist, TrackArtist.track_id == Play.track_id)
            .where(*chosen)
            .distinct()
        )
        statements = []
        for model, key, touched in (
            (ListeningTrackMonth, "track_id", touched_tracks),
            (ListeningArtistMonth, "artist_id", touched_artists),
        ):
            table = model.__table__
            assert isinstance(table, Table)
            entity = (table.c.user_id, table.c[key], table.c.item_kind)
            source = select(
                *entity,
                table.c.month,
                func.lag(table.c.month)
                .over(partition_by=entity, order_by=table.c.month)
                .label("prev"),
            )
            if not everything:
                source = source.where(tuple_(*entity).in_(touched))
            elif user_id is not None:
                source = source.where(table.c.user_id == user_id)
            ordered = source.subquery("ordered")
            statements.append(
                update(table)
                .where(
                    table.c.user_id == ordered.c.user_id,
                    table.c[key] == ordered.c[key],
                    table.c.item_kind == ordered.c.item_kind,
                    table.c.month == ordered.c.month,
                    table.c.prev_month.is_distinct_from(ordered.c.prev),
                )
                .values(prev_month=ordered.c.prev)
            )
        return statements

    @staticmethod
    def _span_rewrites(
        dialect: str, chosen: list[ColumnElement[bool]], *, everything: bool, user_id: int | None
    ) -> list[Any]:
        """INSERT ... SELECT ... ON CONFLICT writing the quarter and year rows of the tracks and
        artists played from their month rows (every row, or the user's, from scratch)."""
        insert_into = sqlite.insert if dialect == "sqlite" else postgresql.insert
        month = UtcMonth(Play.played_at)
        summed: list[tuple[Any, Any, str, tuple[str, ...], Select[*tuple[Any, ...]]]] = [
            (
                ListeningTrackMonth,
                ListeningTrackSpan,
                "track_id",
                ("plays", "ms_played"),
                select(Play.user_id, Play.track_id, Play.item_kind),
            ),
            (
                ListeningArtistMonth,
                ListeningArtistSpan,
                "artist_id",
                ("plays", "ms_played", "primary_plays", "primary_ms_played"),
                select(Play.user_id, TrackArtist.artist_id, Play.item_kind).join(
                    TrackArtist, TrackArtist.track_id == Play.track_id
                ),
            ),
        ]
        statements = []
        for span in SPAN_MONTHS:
            for month_model, span_model, key, columns, played in summed:
                months = month_model.__table__
                spans = span_model.__table__
                assert isinstance(months, Table)
                assert isinstance(spans, Table)
                user, entity, kind = months.c.user_id, months.c[key], months.c.item_kind
                first = months.c.month - months.c.month % span
                sums = [func.sum(months.c[name]) for name in columns]
                source = select(user, literal(span), first, entity, kind, *sums).group_by(
                    user, first, entity, kind
                )
                if everything:
                    source = source.where(user == user_id if user_id is not None else true())
                else:
                    # The spans the new plays fall in, each summed again from its months.
                    touched = (
                        played.add_columns(month - month % span)
                        .where(*chosen)
                        .distinct()
                        .subquery("touched")
                    )
                    source = source.join(
                        touched,
                        and_(
                            user == touched.c[0],
                            entity == touched.c[1],
                            kind == touched.c[2],
                            months.c.month >= touched.c[3],
                            months.c.month < touched.c[3] + span,
                        ),
                    )
                names = ["user_id", "span", "start", key, "item_kind", *columns]
                statement = insert_into(spans).from_select(names, source)
                statements.append(
                    statement.on_conflict_do_update(
                        index_elements=["user_id", "span", "start", key, "item_kind"],
                        set_={name: statement.excluded[name] for name in columns},
                    )
                )
        return statements

    @staticmethod
    def _link_counts(users: list[int], month: int) -> list[Any]:
        """DELETE and INSERT ... SELECT statements counting the users' links again from
        `month`, the earliest the new plays fall in, onwards.

        A new month row lies there, and so does every later row whose track or artist now
        links back to a new row instead: the months from `month` on are counted again from
        their rows, and the quarters and years that hold them from their months' counts."""
        links = ListeningLinkCount
        mine = links.user_id.in_(users)
        statements: list[Any] = [delete(links).where(mine, links.start + links.span > month)]
        names = ["user_id", "subject", "item_kind", "span", "start", "prev_month", "month_rows"]
        for subject, model in (("track", ListeningTrackMonth), ("artist", ListeningArtistMonth)):
            rows = model.__table__
            assert isinstance(rows, Table)
            previous = func.coalesce(rows.c.prev_month, NO_PREVIOUS_MONTH)
            counted = (
                select(
                    rows.c.user_id,
                    literal(subject),
                    rows.c.item_kind,
                    literal(1),
                    rows.c.month,
                    previous,
                    func.count(),
                )
                .where(rows.c.user_id.in_(users), rows.c.month >= month)
                .group_by(rows.c.user_id, rows.c.item_kind, rows.c.month, previous)
            )
            statements.append(insert(links).from_select(names, counted))
        for span in LINK_SPANS[1:]:
            first = links.start - links.start % span
            summed = (
                select(
                    links.user_id,
                    links.subject,
                    links.item_kind,
                    literal(span),
                    first,
                    links.prev_month,
                    func.sum(links.month_rows),
                )
                .where(mine, links.span == 1, links.start >= month - month % span)
                .group_by(links.user_id, links.subject, links.item_kind, first, links.prev_month)
            )
            statements.append(insert(links).from_select(names, summed))
        return statements

    async def _rewrite_days(
        self, session: AsyncSession, user_id: int, days: list[int], upto: int, since_day: int
    ) -> None:
        """Recompute the user's rows of `days`, and first-listen counts from `since_day` on."""
        # (Plays older than a first listen move it back, hence the counts of later days too.)
        new_counts = await self._first_listens(session, user_id, since_day)
        contiguous = len(days) == days[-1] - days[0] + 1
        chunks = (
            [days] if contiguous else [days[i : i + _CHUNK] for i in range(0, len(days), _CHUNK)]
        )
        rows: list[dict[str, Any]] = []
        for chunk in chunks:
            chosen: list[ColumnElement[bool]] = [
                Play.user_id == user_id,
                Play.id <= upto,
                Play.ms_played >= SUMMARY_MIN_MS,
                Play.played_at >= day_start(chunk[0]),
                Play.played_at < day_start(chunk[-1] + 1),
            ]
            if not contiguous:
                chosen.append(UtcDay(Play.played_at).in_(chunk))
            gaps = await self._day_gaps(session, chosen)
            for values in await self._day_totals(session, chosen):
                key = (values["day"], values["item_kind"].value)
                values["user_id"] = user_id
                values["new_items"], values["new_artists"] = new_counts.pop(key, (0, 0))
                after, before, second = gaps.get(key, (None, None, 0))
                values["longest_gap_after"] = after
                values["longest_gap_before"] = before
                values["second_gap_seconds"] = second
                rows.append(values)
            await session.execute(
                delete(ListeningDay).where(
                    ListeningDay.user_id == user_id,
                    ListeningDay.day >= chunk[0],
                    ListeningDay.day <= chunk[-1],
                    *([] if contiguous else [ListeningDay.day.in_(chunk)]),
                )
            )
        if rows:
            day_table = ListeningDay.__table__
            assert isinstance(day_table, Table)
            await session.execute(insert(day_table), rows)
        await self._update_first_listen_counts(session, user_id, since_day, new_counts, days)

    @staticmethod
    async def _day_totals(
        session: AsyncSession, chosen: list[ColumnElement[bool]]
    ) -> list[dict[str, Any]]:
        """Counts, sources, first and last play and hourly detail per (day, kind)."""
        per_play = (
            select(
                UtcDay(Play.played_at).label("day"),
                UtcHour(Play.played_at).label("hour"),
                Play.item_kind.label("item_kind"),
                Play.ms_played.label("ms"),
                Play.source.label("source"),
                Play.played_at.label("played_at"),
            )
            .where(*chosen)
            .subquery()
        )
        c = per_play.c
        columns: dict[str, Any] = {
            "plays": func.count(),
            "ms_played": func.sum(c.ms),
            "api_plays": func.sum(case((c.source == PlaySource.API.value, 1), else_=0)),
            "extended_export_plays": func.sum(
                case((c.source == PlaySource.EXTENDED_EXPORT.value, 1), else_=0)
            ),
            "account_export_plays": func.sum(
                case((c.source == PlaySource.ACCOUNT_EXPORT.value, 1), else_=0)
            ),
            "first_played_at": func.min(c.played_at),
            "last_played_at": func.max(c.played_at),
        }
        for hour in range(24):
            columns[f"plays_h{hour:02d}"] = func.sum(case((c.hour == hour, 1), else_=0))
            columns[f"ms_h{hour:02d}"] = func.sum(case((c.hour == hour, c.ms), else_=0))
        stmt = select(
            c.day, c.item_kind, *[value.label(name) for name, value in columns.items()]
        ).group_by(c.day, c.item_kind)
        return [dict(row._mapping) for row in (await session.execute(stmt)).all()]

    @staticmethod
    async def _day_gaps(
        session: AsyncSession, chosen: list[ColumnElement[bool]]
    ) -> dict[tuple[int, str], tuple[datetime, datetime, int]]:
        """(day, kind) -> longest stretch between two plays (earliest of ties), second length."""
        day = UtcDay(Play.played_at)
        ordered = (
            select(
                day.label("day"),
                Play.item_kind.label("item_kind"),
                Play.played_at.label("before"),
                func.lag(Play.played_at, type_=Play.played_at.type)
                .over(partition_by=(day, Play.item_kind), order_by=Play.played_at)
                .label("after"),
            )
            .where(*chosen)
            .subquery()
        )
        seconds = (EpochSeconds(ordered.c.before) - EpochSeconds(ordered.c.after)).label("seconds")
        ranked = (
            select(
                ordered.c.day,
                ordered.c.item_kind,
                ordered.c.after,
                ordered.c.before,
                seconds,
                func.row_number()
                .over(
                    partition_by=(ordered.c.day, ordered.c.item_kind),
                    order_by=(seconds.desc(), ordered.c.after),
                )
                .label("rank"),
            )
            .where(ordered.c.after.is_not(None))
            .subquery()
        )
        stmt = select(
            ranked.c.day,
            ranked.c.item_kind,
            ranked.c.after,
            ranked.c.before,
            ranked.c.seconds,
            ranked.c.rank,
        ).where(ranked.c.rank <= 2)
        gaps: dict[tuple[int, str], tuple[datetime, datetime, int]] = {}
        seconds_of_second: dict[tuple[int, str], int] = {}
        for d, kind, after, before, length, rank in (await session.execute(stmt)).all():
            key = (int(d), ItemKind(kind).value)
            if int(rank) == 1:
                gaps[key] = (after, before, 0)
            else:
                seconds_of_second[key] = int(length)
        return {
            key: (after, before, seconds_of_second.get(key, 0))
            for key, (after, before, _) in gaps.items()
        }

    @staticmethod
    async def _first_listens(
        session: AsyncSession, user_id: int, since_day: int
    ) -> dict[tuple[int, str], tuple[int, int]]:
        """(day, kind) -> (items, artists) first heard that day, for days from `since_day`."""
        since = day_start(since_day)
        counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
        sources = (
            (0, ListeningTrack.user_id, ListeningTrack.item_kind, ListeningTrack.first_played_at),
            (
                1,
                ListeningArtist.user_id,
                ListeningArtist.item_kind,
                ListeningArtist.first_played_at,
            ),
        )
        for position, owner, item_kind, first_played_at in sources:
            day = UtcDay(first_played_at)
            stmt = (
                select(day, item_kind, func.count())
                .where(owner == user_id, first_played_at >= since)
                .group_by(day, item_kind)
            )
            for d, kind, n in (await session.execute(stmt)).all():
                counts[(int(d), ItemKind(kind).value)][position] = int(n)
        return {key: (value[0], value[1]) for key, value in counts.items()}

    @staticmethod
    async def _update_first_listen_counts(
        session: AsyncSession,
        user_id: int,
        since_day: int,
        counts: dict[tuple[int, str], tuple[int, int]],
        rewritten: Iterable[int],
    ) -> None:
        """Set the first-listen counts of day rows not rewritten, where they changed."""
        skip = set(rewritten)
        stmt = select(
            ListeningDay.day,
            ListeningDay.item_kind,
            ListeningDay.new_items,
            ListeningDay.new_artists,
        ).where(ListeningDay.user_id == user_id, ListeningDay.day >= since_day)
        changes: list[dict[str, Any]] = []
        for day, kind, items, artists in (await session.execute(stmt)).all():
            if int(day) in skip:
                continue
            wanted = counts.get((int(day), ItemKind(kind).value), (0, 0))
            if wanted != (int(items), int(artists)):
                changes.append(
                    {
                        "u": user_id,
                        "d": int(day),
                        "k": ItemKind(kind).value,
                        "items": wanted[0],
                        "artists": wanted[1],
                    }
                )
        if changes:
            day_table = ListeningDay.__table__
            assert isinstance(day_table, Table)
            await session.execute(
                update(day_table)
                .where(
                    and_(
                        day_table.c.user_id == bindparam("u"),
                        day_table.c.day == bindparam("d"),
                        day_table.c.item_kind == bindparam("k"),
                    )
                )
                .values(new_items=bindparam("items"), new_artists=bindparam("artists")),
                changes,
            )
