"""`PlayWriter`: stores normalised plays with their tracks and artists, in bulk, idempotently."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db.base import sqlite_timestamp
from shared.db.enums import PlaySource
from shared.plays.model import NormalizedPlay

# The page cache of a connection that writes in bulk: 128 MiB (a negative size is in KiB).
_SQLITE_BULK_CACHE = "PRAGMA cache_size = -131072"

PLAY_ROW_COLUMNS = (
    "track_id",
    "played_at",
    "ms_played",
    "item_kind",
    "context_type",
    "context_uri",
    "reason_start",
    "reason_end",
    "skipped",
    "shuffle",
    "offline",
    "platform",
)
"""The columns of `plays` that differ from play to play, in the order of a `PlayRow`."""

PlayRow = tuple[Any, ...]
"""One play as the columns of `PLAY_ROW_COLUMNS`: `played_at` a datetime in UTC whole seconds
(see `whole_second`), every text already clipped to its column."""


@dataclass(frozen=True, slots=True)
class _Table:
    """How rows of one table are written: per-row columns, then columns whose value is the
    same for every row of a write (sent once, as parameters)."""

    name: str
    columns: tuple[str, ...]
    column_types: tuple[str, ...]
    """PostgreSQL types of `columns` (for arrays of them)."""
    shared: tuple[str, ...] = ()
    shared_types: tuple[str, ...] = ()
    often_null: tuple[str, ...] = ()
    """Columns that are NULL in every row of most writes: SQLite then does not read them
    from each row (every value read from a JSON row costs about a microsecond)."""


_TRACKS = _Table(
    "tracks",
    (
        "id",
        "kind",
        "name",
        "album_id",
        "album_name",
        "show_name",
        "duration_ms",
        "isrc",
        "explicit",
    ),
    ("text", "varchar", "text", "text", "text", "text", "int", "text", "bool"),
    shared=("created_at", "updated_at"),
    shared_types=("timestamptz", "timestamptz"),
)
_ARTISTS = _Table(
    "artists",
    ("id", "name"),
    ("text", "text"),
    shared=("created_at", "updated_at"),
    shared_types=("timestamptz", "timestamptz"),
)
_TRACK_ARTISTS = _Table(
    "track_artists", ("track_id", "artist_id", "position"), ("text", "text", "int")
)
_PLAYS = _Table(
    "plays",
    PLAY_ROW_COLUMNS,
    (
        "text",
        "timestamptz",
        "int",
        "varchar",
        "varchar",
        "varchar",
        "varchar",
        "varchar",
        "bool",
        "bool",
        "bool",
        "varchar",
    ),
    shared=("user_id", "source", "import_job_id", "created_at"),
    shared_types=("int", "varchar", "int", "timestamptz"),
    often_null=("context_type", "context_uri"),  # exports have no context
)


class ItemRow(NamedTuple):
    """A track, episode or chapter as `tracks` stores it, with its artists in credit order."""

    row: tuple[Any, ...]
    """The columns of `tracks` without `created_at` and `updated_at`, texts clipped."""
    artists: tuple[tuple[str, str], ...] = ()
    """(artist id, artist name) pairs."""

    @property
    def track_id(self) -> str:
        """The item's id (`tracks.id`)."""
        return str(self.row[0])

    @property
    def name(self) -> str:
        """The item's name, clipped as stored."""
        return str(self.row[2])

    @property
    def creator(self) -> str:
        """Who made it, as account data names it: the show of an episode, else the first
        credited artist ("" when neither is known)."""
        show_name = self.row[5]
        if show_name:
            return str(show_name)
        return self.artists[0][1] if self.artists else ""


@dataclass(frozen=True, slots=True)
class PlayOrigin:
    """What the plays of one write share: whose they are and where they come from."""

    user_id: int
    source: PlaySource
    import_job_id: int | None = None


@dataclass(frozen=True, slots=True)
class StagedPlays:
    """Play rows on their way into `plays` (see `PlayWriter.stage`)."""

    origin: PlayOrigin
    rows: Sequence[PlayRow]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: plays newly stored, and plays that were already there."""

    inserted: int
    duplicates: int


def whole_second(played_at: datetime) -> datetime:
    """`played_at` in UTC without its fraction: the precision in which sources agree."""
    if played_at.tzinfo is None:
        raise ValueError("played_at must be timezone-aware")
    if played_at.microsecond:
        played_at = played_at.replace(microsecond=0)
    if played_at.utcoffset():
        played_at = played_at.astimezone(UTC)
    return played_at


def clip(value: str | None, length: int) -> str | None:
    """The text cut to a column's length (None stays None)."""
    if value is None or len(value) <= length:
        return value
    return value[:length]


def play_row(play: NormalizedPlay) -> PlayRow:
    """The row `plays` stores for a normalised play (without what its origin says)."""
    played_at = play.played_at
    if played_at.microsecond or played_at.tzinfo is not UTC:
        played_at = whole_second(played_at)
    return (
        play.track_id,
        played_at,
        play.ms_played,
        play.item_kind.value,
        clip(play.context_type, 32),
        clip(play.context_uri, 255),
        clip(play.reason_start, 64),
        clip(play.reason_end, 64),
        play.skipped,
        play.shuffle,
        play.offline,
        clip(play.platform, 255),
    )


def item_row(play: NormalizedPlay) -> ItemRow:
    """The row `tracks` stores for a normalised play's item, with its credited artists."""
    return ItemRow(
        row=(
            play.track_id,
            play.item_kind.value,
            play.track_name[:512],
            play.album_id,
            clip(play.album_name, 512),
            clip(play.show_name, 512),
            play.duration_ms,
            play.isrc,
            play.explicit,
        ),
        artists=tuple(
            (artist_id, name[:512])
            for artist_id, name in zip(play.artist_ids, play.artist_names, strict=True)
        ),
    )


class PlayWriter:
    """Writes plays, their tracks, artists and credits: one INSERT ... ON CONFLICT DO NOTHING
    per table and batch.

    The writer remembers the tracks it has stored, so a long run sends each track and its
    artists once. Use one writer per unit of work (an import run, a poll) and drop it after a
    rolled-back transaction, since what it remembers may then not be in the database.
    """

    def __init__(self) -> None:
        self._known_tracks: set[str] = set()

    async def write(self, session: AsyncSession, plays: Sequence[NormalizedPlay]) -> WriteResult:
        """Store the plays (and whatever they reference) that are not stored yet."""
        groups: dict[PlayOrigin, list[PlayRow]] = {}
        items: dict[str, ItemRow] = {}
        for play in plays:
            origin = PlayOrigin(play.user_id, play.source, play.import_job_id)
            groups.setdefault(origin, []).append(play_row(play))
            if play.track_id not in items and play.track_id not in self._known_tracks:
                items[play.track_id] = item_row(play)
        await self.write_items(session, items.values())
        inserted = 0
        for origin, rows in groups.items():
            staged = await self.stage(session, origin, rows)
            inserted += (await self.insert_staged(session, staged)).inserted
        return WriteResult(inserted=inserted, duplicates=len(plays) - inserted)

    async def write_rows(
        self,
        session: AsyncSession,
        origin: PlayOrigin,
        rows: Sequence[PlayRow],
        items: Iterable[ItemRow],
    ) -> WriteResult:
        """Store the play rows not stored yet (the bulk path of an import).

        `items` must hold every item among the rows that this writer has not been given
        before; items it already knows are skipped. Repeats of one (user, played_at, track)
        among the rows count as duplicates: the first one is stored.
        """
        await self.write_items(session, items)
        staged = await self.stage(session, origin, rows)
        return await self.insert_staged(session, staged)

    async def write_items(self, session: AsyncSession, items: Iterable[ItemRow]) -> None:
        """Store the items this writer has not been given before (with their artists and
        credits, for the items new to the database)."""
        connection = await _bulk_connection(session)
        await self._write_items(connection, items, datetime.now(UTC))

    async def stage(
        self, session: AsyncSession, origin: PlayOrigin, rows: Sequence[PlayRow]
    ) -> StagedPlays:
        """The first half of storing play rows whose items are stored: on PostgreSQL, copy
        them into a staging table of the session's connection.

        Nothing here touches `plays`, so it may run while another transaction writes plays;
        `insert_staged`, in the same transaction, stores them.
        """
        connection = await _bulk_connection(session)
        if rows and connection.dialect.name == "postgresql":
            await _copy_to_staging(connection, rows)
        return StagedPlays(origin=origin, rows=rows, created_at=datetime.now(UTC))

    async def insert_staged(self, session: AsyncSession, staged: StagedPlays) -> WriteResult:
        """The second half of `write_rows`: store the staged rows not stored yet."""
        rows = staged.rows
        if not rows:
            return WriteResult(inserted=0, duplicates=0)
        origin = staged.origin
        shared = (origin.user_id, origin.source.value, origin.import_job_id, staged.created_at)
        connection = await session.connection()
        if connection.dialect.name == "sqlite":
            inserted = await _insert(connection, _PLAYS, rows, shared)
        else:
            inserted = await _move_staged(connection, shared)
        return WriteResult(inserted=inserted, duplicates=len(rows) - inserted)

    async def _write_items(
        self, connection: AsyncConnection, items: Iterable[ItemRow], now: datetime
    ) -> None:
        """Tracks not seen before, then their artists and credits (only for new tracks, so
        an export's name-only artist never joins the real artists of an API track)."""
        known = self._known_tracks
        candidates: dict[str, ItemRow] = {}
        for item in items:
            track_id = item.row[0]
            if track_id not in known and track_id not in candidates:
                candidates[track_id] = item
        if not candidates:
            return
        # In id order, here and for artists: two imports writing the same new items then
        # wait for each other in one order only, never in a deadlock.
        created = await _insert_returning_ids(
            connection, _TRACKS, sorted(item.row for item in candidates.values()), (now, now)
        )
        known.update(candidates)
        artists: dict[str, str] = {}
        credits: list[tuple[Any, ...]] = []
        for track_id in created:
            seen: set[str] = set()
            for artist_id, artist_name in candidates[track_id].artists:
                if artist_id in seen:
                    continue
                artists.setdefault(artist_id, artist_name)
                credits.append((track_id, artist_id, len(seen)))
                seen.add(artist_id)
        if artists:
            await _insert(connection, _ARTISTS, sorted(artists.items()), (now, now))
            await _insert(connection, _TRACK_ARTISTS, credits, ())


async def _bulk_connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection, set up for bulk writes."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        # A bulk write touches pages of several b-trees at once; SQLite's default 2 MB page
        # cache makes it read back what it just evicted. The setting stays with the
        # connection, and pages are only held once used.
        await connection.exec_driver_sql(_SQLITE_BULK_CACHE)
    return connection


async def _insert(
    connection: AsyncConnection, table: _Table, rows: Sequence[tuple[Any, ...]], shared: Any
) -> int:
    """Insert the rows (with the shared values), skipping conflicts; returns how many were
    new."""
    if not rows:
        return 0
    sql, parameters = _statement(connection, table, rows, shared)
    result = await connection.exec_driver_sql(sql, parameters)
    return max(result.rowcount, 0)


async def _insert_returning_ids(
    connection: AsyncConnection, table: _Table, rows: Sequence[tuple[Any, ...]], shared: Any
) -> list[str]:
    """Insert the rows (with the shared values), skipping conflicts; returns the ids of the
    new ones."""
    if not rows:
        return []
    sql, parameters = _statement(connection, table, rows, shared)
    if connection.dialect.name == "postgresql":
        result = await connection.exec_driver_sql(sql + " RETURNING id", parameters)
        return [row[0] for row in result.all()]
    # SQLite hands RETURNING rows out one step at a time, and the driver takes the GIL back
    # for each: behind a busy parser thread that costs milliseconds per row. The ids already
    # there come back as one JSON value instead. No other writer can add one in between:
    # SQLite has one writer, and a transaction whose snapshot went stale cannot write.
    existing_sql = (
        f"SELECT json_group_array(id) FROM {table.name} "  # noqa: S608 (names are constants)
        "WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each(?))"
    )
    existing = await connection.exec_driver_sql(existing_sql, (parameters[-1],))
    found = set(orjson.loads(existing.scalar_one()))
    await connection.exec_driver_sql(sql, parameters)
    return [row[0] for row in rows if row[0] not in found]


def _statement(
    connection: AsyncConnection,
    table: _Table,
    rows: Sequence[tuple[Any, ...]],
    shared: tuple[Any, ...],
) -> tuple[str, tuple[Any, ...]]:
    """One INSERT ... ON CONFLICT DO NOTHING for any number of rows, and its parameters."""
    names = ", ".join((*table.columns, *table.shared))
    if connection.dialect.name == "postgresql":
        # Each column travels as one array parameter, the shared values after them.
        arrays = ", ".join(f"${i}::{kind}[]" for i, kind in enumerate(table.column_types, start=1))
        values = "".join(
            f", ${i}::{kind}"
            for i, kind in enumerate(table.shared_types, start=len(table.columns) + 1)
        )
        sql = (
            f"INSERT INTO {table.name} ({names}) "  # noqa: S608 (names are constants)
            f"SELECT *{values} FROM unnest({arrays}) ON CONFLICT DO NOTHING"
        )
        return sql, (*_as_arrays(table, rows), *shared)
    # SQLite: the rows travel as one JSON array and one statement inserts them all. It runs
    # inside SQLite without Python's GIL (binding row by row would take the GIL back for
    # every row), so a parser thread can work on the next batch meanwhile. Rows are read in
    # array order, so the first of repeated rows is the one stored; "WHERE true" tells
    # SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
    null = {name for name in table.often_null if _all_none(rows, table.columns.index(name))}
    extracted = ", ".join(
        "NULL"
        if name in null
        else _SQLITE_VALUE.get(name, "{}").format(f"json_extract(value, '$[{i}]')")
        for i, name in enumerate(table.columns)
    )
    placeholders = "".join(", ?" for _ in table.shared)
    sql = (
        f"INSERT INTO {table.name} ({names}) "  # noqa: S608 (names are constants)
        f"SELECT {extracted}{placeholders} FROM json_each(?) WHERE true ON CONFLICT DO NOTHING"
    )
    document = orjson.dumps(rows, option=orjson.OPT_UTC_Z)
    return sql, (*(_sqlite_value(value) for value in shared), document)


# SQLAlchemy stores a timestamp on SQLite as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; datetime()
# turns the JSON's ISO-8601 text of a whole second into its first 19 characters.
_SQLITE_VALUE = {"played_at": "datetime({}) || '.000000'"}


def _all_none(rows: Sequence[tuple[Any, ...]], index: int) -> bool:
    """True when the column at `index` is None in every row."""
    return list(map(itemgetter(index), rows)).count(None) == len(rows)


def _sqlite_value(value: Any) -> Any:
    """A shared value as SQLite stores it: timestamps as SQLAlchemy writes them, in UTC,
    made in one C call rather than through the per-value bind processor."""
    return sqlite_timestamp(value) if isinstance(value, datetime) else value


def _as_arrays(table: _Table, rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    arrays = tuple(list(column) for column in zip(*rows, strict=True))
    assert len(arrays) == len(table.columns)
    return arrays


# PostgreSQL plays: binary COPY of the rows into a session-local staging table, then one
# INSERT ... SELECT that adds the shared columns and skips conflicts. Binary COPY encodes
# each value once by its column type, cheaper than the per-element checks of array
# parameters, which the far smaller item writes use.
_STAGED_PLAYS = "staged_play_rows"
_CREATE_STAGED_PLAYS = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED_PLAYS} ON COMMIT DELETE ROWS AS "  # noqa: S608
    f"SELECT {', '.join(PLAY_ROW_COLUMNS)} FROM plays WITH NO DATA"  # (names are constants)
)
_EMPTY_STAGED_PLAYS = f"DELETE FROM {_STAGED_PLAYS}"  # noqa: S608 (a constant)
_MOVE_STAGED_PLAYS = (
    f"INSERT INTO plays ({', '.join((*_PLAYS.columns, *_PLAYS.shared))}) "  # noqa: S608
    f"SELECT {', '.join(_PLAYS.columns)}, "
    + ", ".join(f"${i}::{kind}" for i, kind in enumerate(_PLAYS.shared_types, start=1))
    + f" FROM {_STAGED_PLAYS} ON CONFLICT DO NOTHING"
)


async def _copy_to_staging(connection: AsyncConnection, rows: Sequence[PlayRow]) -> None:
    """COPY the rows into the connection's staging table (emptied first).

    The staging table lives as long as the connection (or until a rollback undoes its
    creation); every commit empties it too.
    """
    # Through SQLAlchemy, so the session's transaction has begun before the driver is used.
    await connection.exec_driver_sql(_CREATE_STAGED_PLAYS)
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    # Rows of an earlier write in this same transaction must not be moved twice.
    await driver.execute(_EMPTY_STAGED_PLAYS)
    await driver.copy_records_to_table(_STAGED_PLAYS, records=rows, columns=PLAY_ROW_COLUMNS)


async def _move_staged(connection: AsyncConnection, shared: tuple[Any, ...]) -> int:
    """Move the staged rows into `plays` skipping conflicts; returns how many were new."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    status: str = await driver.execute(_MOVE_STAGED_PLAYS, *shared)
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"
