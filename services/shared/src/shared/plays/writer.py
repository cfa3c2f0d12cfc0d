"""`PlayWriter`: stores normalised plays with their tracks and artists, in bulk, idempotently."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db.models import Play
from shared.plays.model import NormalizedPlay

# SQLite refuses more than 32,766 bound parameters in one statement.
_SQLITE_MAX_PARAMETERS = 30_000

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
    "plays": (
        "int",
        "text",
        "timestamptz",
        "int",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "bool",
        "bool",
        "bool",
        "text",
        "int",
        "timestamptz",
    ),
}

PlayKey = tuple[int, datetime, str]


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
        if not plays:
            return WriteResult(inserted=0, duplicates=0)
        connection = await session.connection()
        now = datetime.now(UTC)
        unique = self._unique_plays(plays)
        await self._write_items(connection, unique.values(), now)
        inserted = await _insert(
            connection,
            "plays",
            _PLAY_COLUMNS,
            [_play_row(play, now) for play in unique.values()],
        )
        return WriteResult(inserted=inserted, duplicates=len(plays) - inserted)

    @staticmethod
    def _unique_plays(plays: Sequence[NormalizedPlay]) -> dict[PlayKey, NormalizedPlay]:
        """The batch without repeats of one (user, played_at, track); the first one wins."""
        unique: dict[PlayKey, NormalizedPlay] = {}
        for given in plays:
            played_at = given.played_at
            play = given
            if played_at.microsecond or played_at.tzinfo is not UTC:
                play = replace(given, played_at=whole_second(played_at))
            unique.setdefault((play.user_id, play.played_at, play.track_id), play)
        return unique

    async def _write_items(
        self, connection: AsyncConnection, plays: Iterable[NormalizedPlay], now: datetime
    ) -> None:
        """Tracks not seen before, then their artists and credits (only for new tracks, so
        an export's name-only artist never joins the real artists of an API track)."""
        candidates: dict[str, NormalizedPlay] = {}
        for play in plays:
            if play.track_id not in self._known_tracks:
                candidates.setdefault(play.track_id, play)
        if not candidates:
            return
        created = await _insert_returning_ids(
            connection, "tracks", _TRACK_COLUMNS, [_track_row(p, now) for p in candidates.values()]
        )
        self._known_tracks.update(candidates)
        artists: dict[str, str] = {}
        credits: list[tuple[Any, ...]] = []
        for track_id in created:
            play = candidates[track_id]
            seen: set[str] = set()
            for artist_id, artist_name in zip(play.artist_ids, play.artist_names, strict=True):
                if artist_id in seen:
                    continue
                artists.setdefault(artist_id, artist_name[:512])
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


def _track_row(play: NormalizedPlay, now: datetime) -> tuple[Any, ...]:
    return (
        play.track_id,
        play.item_kind.value,
        play.track_name[:512],
        play.album_id,
        _clip(play.album_name, 512),
        _clip(play.show_name, 512),
        play.duration_ms,
        play.isrc,
        play.explicit,
        now,
        now,
    )


def _play_row(play: NormalizedPlay, now: datetime) -> tuple[Any, ...]:
    return (
        play.user_id,
        play.track_id,
        play.played_at,
        play.ms_played,
        play.item_kind.value,
        play.source.value,
        _clip(play.context_type, 32),
        _clip(play.context_uri, 255),
        _clip(play.reason_start, 64),
        _clip(play.reason_end, 64),
        play.skipped,
        play.shuffle,
        play.offline,
        _clip(play.platform, 255),
        play.import_job_id,
        now,
    )


def _clip(value: str | None, length: int) -> str | None:
    if value is None or len(value) <= length:
        return value
    return value[:length]


def _datetime_processor(dialect: Dialect) -> Callable[[Any], Any]:
    """How the ORM stores a timestamp on this dialect, so raw rows compare equal to ORM rows."""
    column_type = Play.__table__.c.played_at.type
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    return processor


def _datetime_positions(columns: Sequence[str]) -> tuple[int, ...]:
    return tuple(
        i for i, name in enumerate(columns) if name in {"played_at", "created_at", "updated_at"}
    )


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
    inserted = 0
    for sql, parameters in _sqlite_inserts(connection.dialect, table, columns, rows):
        result = await connection.exec_driver_sql(sql, parameters)
        inserted += max(result.rowcount, 0)
    return inserted


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
    ids: list[str] = []
    for sql, parameters in _sqlite_inserts(connection.dialect, table, columns, rows):
        result = await connection.exec_driver_sql(sql + " RETURNING id", parameters)
        ids.extend(row[0] for row in result.all())
    return ids


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


def _sqlite_inserts(
    dialect: Dialect, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> Iterable[tuple[str, tuple[Any, ...]]]:
    """Multi-row INSERTs, each under SQLite's limit of bound parameters."""
    to_text = _datetime_processor(dialect)
    timestamps = _datetime_positions(columns)
    per_statement = max(1, _SQLITE_MAX_PARAMETERS // len(columns))
    placeholder = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 (constants)
    # Rows of one batch share their created_at: convert each distinct moment once.
    converted: dict[datetime, Any] = {}
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        parameters: list[Any] = []
        for row in chunk:
            if timestamps:
                values = list(row)
                for i in timestamps:
                    moment = values[i]
                    text = converted.get(moment)
                    if text is None:
                        text = converted[moment] = to_text(moment)
                    values[i] = text
                parameters.extend(values)
            else:
                parameters.extend(row)
        sql = head + ", ".join([placeholder] * len(chunk)) + " ON CONFLICT DO NOTHING"
        yield sql, tuple(parameters)
