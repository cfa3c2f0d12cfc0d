"""`PlayWriter`: stores normalised plays with their tracks and artists, in bulk, idempotently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.plays.model import NormalizedPlay

# SQLite refuses more than 32,766 bound parameters in one statement.
_SQLITE_MAX_PARAMETERS = 30_000
# The page cache of a connection that writes in bulk: 128 MiB (a negative size is in KiB).
_SQLITE_BULK_CACHE = "PRAGMA cache_size = -131072"

_ARTIST_COLUMNS = ("id", "name", "created_at", "updated_at")
_TRACK_COLUMNS = (
    "id",
    "kind",
    "name",
    "album_id",
    "album_name",
    "show_name",
    "duration_ms",
    "isrc",
    "explicit",
    "created_at",
    "updated_at",
)
_TRACK_ARTIST_COLUMNS = ("track_id", "artist_id", "position")
_PLAY_COLUMNS = (
    "user_id",
    "track_id",
    "played_at",
    "ms_played",
    "item_kind",
    "source",
    "context_type",
    "context_uri",
    "reason_start",
    "reason_end",
    "skipped",
    "shuffle",
    "offline",
    "platform",
    "import_job_id",
    "created_at",
)

# PostgreSQL array types of each column, for `INSERT ... SELECT FROM unnest(...)`.
_PG_TYPES = {
    "artists": ("text", "text", "timestamptz", "timestamptz"),
    "tracks": (
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "int",
        "text",
        "bool",
        "timestamptz",
        "timestamptz",
    ),
    "track_artists": ("text", "text", "int"),
}

PlayRow = tuple[Any, ...]
"""A play in the column order of `plays` without `created_at`; `played_at` in UTC whole
seconds and every text already clipped to its column."""
PlayKey = tuple[Any, ...]


class ItemRow(NamedTuple):
    """A track, episode or chapter as `tracks` stores it, with its artists in credit order."""

    row: tuple[Any, ...]
    """The columns of `tracks` without `created_at` and `updated_at`, texts clipped."""
    artists: tuple[tuple[str, str], ...] = ()
    """(artist id, artist name) pairs."""


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
    """The row `plays` stores for a normalised play."""
    played_at = play.played_at
    if played_at.microsecond or played_at.tzinfo is not UTC:
        played_at = whole_second(played_at)
    return (
        play.user_id,
        play.track_id,
        played_at,
        play.ms_played,
        play.item_kind.value,
        play.source.value,
        clip(play.context_type, 32),
        clip(play.context_uri, 255),
        clip(play.reason_start, 64),
        clip(play.reason_end, 64),
        play.skipped,
        play.shuffle,
        play.offline,
        clip(play.platform, 255),
        play.import_job_id,
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

    The writer remembers the tracks it has stored, so a long import sends each track and its
    artists once. Use one writer per unit of work (an import run, a poll) and drop it after a
    rolled-back transaction, since what it remembers may then not be in the database.
    """

    def __init__(self) -> None:
        self._known_tracks: set[str] = set()

    async def write(self, session: AsyncSession, plays: Sequence[NormalizedPlay]) -> WriteResult:
        """Store the plays (and whatever they reference) that are not stored yet."""
        items: dict[str, ItemRow] = {}
        for play in plays:
            if play.track_id not in items and play.track_id not in self._known_tracks:
                items[play.track_id] = item_row(play)
        return await self.write_rows(session, [play_row(play) for play in plays], items)

    async def write_rows(
        self, session: AsyncSession, rows: Sequence[PlayRow], items: Mapping[str, ItemRow]
    ) -> WriteResult:
        """Store play rows not stored yet; `items` holds the item of every track id among
        the rows that this writer has not stored before (the bulk path of an import)."""
        if not rows:
            return WriteResult(inserted=0, duplicates=0)
        connection = await session.connection()
        if connection.dialect.name == "sqlite":
            # A bulk write touches pages of five b-trees at once; SQLite's default 2 MB page
            # cache makes it read back what it just evicted. The setting stays with the
            # pooled connection, and pages are only held once used.
            await connection.exec_driver_sql(_SQLITE_BULK_CACHE)
        now = datetime.now(UTC)
        unique: dict[PlayKey, PlayRow] = {}
        for row in rows:  # repeats of one (user, track, played_at): the first one wins
            key = row[:3]
            if key not in unique:
                unique[key] = row
        await self._write_items(connection, unique.values(), items, now)
        play_rows = [(*row, now) for row in unique.values()]
        if connection.dialect.name == "postgresql":
            inserted = await _copy_plays(connection, play_rows)
        else:
            inserted = await _insert(connection, "plays", _PLAY_COLUMNS, play_rows)
        return WriteResult(inserted=inserted, duplicates=len(rows) - inserted)

    async def _write_items(
        self,
        connection: AsyncConnection,
        rows: Iterable[PlayRow],
        items: Mapping[str, ItemRow],
        now: datetime,
    ) -> None:
        """Tracks not seen before, then their artists and credits (only for new tracks, so
        an export's name-only artist never joins the real artists of an API track)."""
        known = self._known_tracks
        candidates: dict[str, ItemRow] = {}
        for row in rows:
            track_id = row[1]
            if track_id not in known and track_id not in candidates:
                candidates[track_id] = items[track_id]
        if not candidates:
            return
        created = await _insert_returning_ids(
            connection,
            "tracks",
            _TRACK_COLUMNS,
            [(*item.row, now, now) for item in candidates.values()],
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
            await _insert(
                connection,
                "artists",
                _ARTIST_COLUMNS,
                [(artist_id, name, now, now) for artist_id, name in artists.items()],
            )
            await _insert(connection, "track_artists", _TRACK_ARTIST_COLUMNS, credits)


def _sqlite_timestamp(moment: datetime) -> str:
    """The text SQLAlchemy stores on SQLite for a timestamp, 'YYYY-MM-DD HH:MM:SS.ffffff' in
    UTC, made in one C call rather than through the per-value bind processor."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:26]


def _timestamp_positions(columns: Sequence[str]) -> tuple[int, ...]:
    return tuple(
        i for i, name in enumerate(columns) if name in {"played_at", "created_at", "updated_at"}
    )


def _sqlite_rows(
    columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> Sequence[tuple[Any, ...]]:
    """The rows with their timestamps as SQLite stores them."""
    if columns is _PLAY_COLUMNS:
        # Each play has its own played_at (index 2); created_at (last) is the batch's moment.
        created = _sqlite_timestamp(rows[0][-1])
        return [(*row[:2], _sqlite_timestamp(row[2]), *row[3:-1], created) for row in rows]
    positions = _timestamp_positions(columns)
    if not positions:
        return rows
    texts: dict[datetime, str] = {}
    converted: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for i in positions:
            moment = values[i]
            text = texts.get(moment)
            if text is None:
                text = texts[moment] = _sqlite_timestamp(moment)
            values[i] = text
        converted.append(tuple(values))
    return converted


async def _insert(
    connection: AsyncConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> int:
    """Insert the rows, skipping conflicts; returns how many were new."""
    if not rows:
        return 0
    if connection.dialect.name == "postgresql":
        result = await connection.exec_driver_sql(
            _postgres_insert(table, columns), _as_arrays(columns, rows)
        )
        return max(result.rowcount, 0)
    # One prepared single-row statement run over every row (executemany): its rowcount is
    # the number of rows inserted, since a conflict skipped by DO NOTHING changes nothing.
    placeholders = ", ".join("?" * len(columns))
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (names are constants)
        f"VALUES ({placeholders}) ON CONFLICT DO NOTHING"
    )
    result = await connection.exec_driver_sql(sql, _sqlite_rows(columns, rows))
    return max(result.rowcount, 0)


async def _insert_returning_ids(
    connection: AsyncConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> list[str]:
    """Insert the rows, skipping conflicts; returns the ids of the new ones."""
    if connection.dialect.name == "postgresql":
        sql = _postgres_insert(table, columns) + " RETURNING id"
        result = await connection.exec_driver_sql(sql, _as_arrays(columns, rows))
        return [row[0] for row in result.all()]
    # RETURNING cannot run under executemany: multi-row statements under SQLite's limit.
    converted = _sqlite_rows(columns, rows)
    per_statement = max(1, _SQLITE_MAX_PARAMETERS // len(columns))
    placeholder = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 (constants)
    ids: list[str] = []
    for start in range(0, len(converted), per_statement):
        chunk = converted[start : start + per_statement]
        sql = head + ", ".join([placeholder] * len(chunk)) + " ON CONFLICT DO NOTHING RETURNING id"
        result = await connection.exec_driver_sql(
            sql, tuple(value for row in chunk for value in row)
        )
        ids.extend(row[0] for row in result.all())
    return ids


_STAGED_PLAYS = "staged_plays"
_CREATE_STAGED_PLAYS = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED_PLAYS} ON COMMIT DELETE ROWS AS "  # noqa: S608
    f"SELECT {', '.join(_PLAY_COLUMNS)} FROM plays WITH NO DATA"  # (names are constants)
)
_MOVE_STAGED_PLAYS = (
    f"WITH staged AS (DELETE FROM {_STAGED_PLAYS} RETURNING *) "  # noqa: S608 (constants)
    f"INSERT INTO plays ({', '.join(_PLAY_COLUMNS)}) "
    "SELECT * FROM staged ON CONFLICT DO NOTHING"
)


async def _copy_plays(connection: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY the rows into a session-local staging table, then move them into
    `plays` skipping conflicts; returns how many were new.

    Binary COPY encodes each value once by its column type, cheaper than the per-element
    checks of array parameters. The staging table lives as long as the
    connection (or until a rollback undoes its creation) and is emptied by every move.
    """
    if not rows:
        return 0
    # Through SQLAlchemy, so the session's transaction has begun before the driver is used.
    await connection.exec_driver_sql(_CREATE_STAGED_PLAYS)
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(_STAGED_PLAYS, records=rows, columns=_PLAY_COLUMNS)
    status: str = await driver.execute(_MOVE_STAGED_PLAYS)
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"


def _postgres_insert(table: str, columns: Sequence[str]) -> str:
    """One statement for any number of rows: each column travels as one array parameter."""
    arrays = ", ".join(f"${i}::{kind}[]" for i, kind in enumerate(_PG_TYPES[table], start=1))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (names are constants)
        f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
    )


def _as_arrays(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    arrays = tuple(list(column) for column in zip(*rows, strict=True))
    assert len(arrays) == len(columns)
    return arrays
