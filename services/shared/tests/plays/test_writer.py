"""PlayWriter stores each play once, whatever the source and however often it is written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import ItemKind, PlaySource
from shared.db.models import Artist, Play, Track, TrackArtist
from shared.plays.model import NormalizedPlay, local_id
from shared.plays.writer import (
    PLAY_ROW_COLUMNS,
    ItemRow,
    PlayOrigin,
    PlayRow,
    PlayWriter,
    WriteResult,
)
from testkit.factories import create_play, create_track, create_user

START = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def _play(user_id: int, n: int, **overrides: object) -> NormalizedPlay:
    values: dict[str, object] = {
        "user_id": user_id,
        "source": PlaySource.EXTENDED_EXPORT,
        "item_kind": ItemKind.TRACK,
        "track_id": f"writertrack{n % 7:011d}",
        "track_name": f"Song {n % 7}",
        "played_at": START + timedelta(minutes=n),
        "ms_played": 1000 * n,
        "artist_ids": (local_id(f"Band {n % 3}"), local_id("Guest")),
        "artist_names": (f"Band {n % 3}", "Guest"),
        "album_name": "Album",
    }
    values.update(overrides)
    return NormalizedPlay(**values)  # type: ignore[arg-type]


async def _count(session: AsyncSession, user_id: int) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Play).where(Play.user_id == user_id)
    )
    return int(total or 0)


class TestPlayWriter:
    async def test_stores_plays_tracks_artists_and_credit_order(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        plays = [_play(user.id, n) for n in range(20)]

        result = await PlayWriter().write(db_session, plays)

        assert result == WriteResult(inserted=20, duplicates=0)
        assert await _count(db_session, user.id) == 20
        credits = (
            await db_session.execute(
                select(TrackArtist.artist_id, TrackArtist.position)
                .where(TrackArtist.track_id == "writertrack00000000001")
                .order_by(TrackArtist.position)
            )
        ).all()
        assert [tuple(row) for row in credits] == [(local_id("Band 1"), 0), (local_id("Guest"), 1)]
        guest = await db_session.get(Artist, local_id("Guest"))
        assert guest is not None
        assert guest.name == "Guest"

    async def test_repeats_within_a_batch_are_one_play(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        plays = [_play(user.id, n) for n in range(10)]

        result = await PlayWriter().write(db_session, plays + plays[:4])

        assert result == WriteResult(inserted=10, duplicates=4)
        assert await _count(db_session, user.id) == 10

    async def test_writing_again_adds_nothing(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        plays = [_play(user.id, n) for n in range(10)]
        await PlayWriter().write(db_session, plays)

        again = await PlayWriter().write(db_session, plays)
        overlap = await PlayWriter().write(db_session, [_play(user.id, n) for n in range(5, 15)])

        assert again == WriteResult(inserted=0, duplicates=10)
        assert overlap == WriteResult(inserted=5, duplicates=5)
        assert await _count(db_session, user.id) == 15

    async def test_write_after_a_rolled_back_write_stores_every_play(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        plays = [_play(user.id, n) for n in range(10)]
        savepoint = await db_session.begin_nested()
        await PlayWriter().write(db_session, plays)
        await savepoint.rollback()

        result = await PlayWriter().write(db_session, plays)

        assert result == WriteResult(inserted=10, duplicates=0)
        assert await _count(db_session, user.id) == 10

    async def test_api_play_in_milliseconds_meets_its_export_row_in_seconds(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        polled_at = datetime(2024, 5, 1, 8, 30, 12, 734_000, tzinfo=UTC)
        # The poller stores whole seconds, as NormalizedPlay promises.
        await create_play(
            db_session, user=user, track=track, played_at=polled_at.replace(microsecond=0)
        )
        exported = _play(
            user.id, 1, track_id=track.id, played_at=polled_at, artist_ids=(), artist_names=()
        )

        result = await PlayWriter().write(db_session, [exported])

        assert result == WriteResult(inserted=0, duplicates=1)
        assert await _count(db_session, user.id) == 1

    async def test_existing_track_keeps_its_credits(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        exported = _play(user.id, 1, track_id=track.id)

        await PlayWriter().write(db_session, [exported])

        credited = await db_session.scalar(
            select(func.count()).select_from(TrackArtist).where(TrackArtist.track_id == track.id)
        )
        assert credited == 1

    async def test_fraction_of_a_second_is_dropped(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        play = _play(user.id, 3, played_at=START.replace(microsecond=999_000))

        result = await PlayWriter().write(db_session, [play, replace(play, played_at=START)])

        assert result == WriteResult(inserted=1, duplicates=1)
        stored = await db_session.scalar(select(Play.played_at).where(Play.user_id == user.id))
        assert stored == START

    async def test_batches_larger_than_one_statement(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        plays = [_play(user.id, n, track_id=f"bulk{n:018d}") for n in range(4000)]

        result = await PlayWriter().write(db_session, plays)

        assert result == WriteResult(inserted=4000, duplicates=0)
        tracks = await db_session.scalar(
            select(func.count()).select_from(Track).where(Track.id.like("bulk%"))
        )
        assert tracks == 4000


ODD_TEXTS = (
    "quote \" and apostrophe ' and back\\slash",
    "line\nbreak\ttab\x01control",
    "emoji 🎧 and 日本語 and combining é",
    "",
)


def _row(n: int, track_id: str, **overrides: object) -> PlayRow:
    values: dict[str, object] = {
        "track_id": track_id,
        "played_at": START + timedelta(seconds=n),
        "ms_played": n,
        "item_kind": ItemKind.TRACK.value,
        "context_type": None,
        "context_uri": None,
        "reason_start": None,
        "reason_end": None,
        "skipped": None,
        "shuffle": None,
        "offline": None,
        "platform": None,
    }
    values.update(overrides)
    return tuple(values[name] for name in PLAY_ROW_COLUMNS)


def _item(track_id: str) -> ItemRow:
    return ItemRow(
        row=(
            track_id,
            ItemKind.TRACK.value,
            f"Song {track_id}",
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        artists=((local_id("Band"), "Band"),),
    )


class TestPlayRows:
    async def test_texts_flags_and_contexts_are_stored_exactly(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        origin = PlayOrigin(user.id, PlaySource.EXTENDED_EXPORT)
        rows = [
            _row(
                n,
                "rowstrack000000000001",
                reason_start=text,
                platform=text or None,
                skipped=[True, False, None][n % 3],
                shuffle=[None, True, False][n % 3],
                offline=[False, None, True][n % 3],
            )
            for n, text in enumerate(ODD_TEXTS)
        ]
        rows.append(_row(9, "rowstrack000000000001", context_type="playlist", context_uri="x:y"))

        result = await PlayWriter().write_rows(
            db_session, origin, rows, [_item("rowstrack000000000001")]
        )

        assert result == WriteResult(inserted=5, duplicates=0)
        stored = (
            await db_session.execute(
                select(*(getattr(Play, name) for name in PLAY_ROW_COLUMNS))
                .where(Play.user_id == user.id)
                .order_by(Play.played_at)
            )
        ).all()
        assert [tuple(row) for row in stored] == [
            (*row[:3], ItemKind.TRACK, *row[4:]) for row in rows
        ]

    async def test_rows_without_contexts_store_null_contexts(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        origin = PlayOrigin(user.id, PlaySource.EXTENDED_EXPORT)
        rows = [_row(n, "rowstrack000000000002", reason_end="trackdone") for n in range(3)]

        await PlayWriter().write_rows(db_session, origin, rows, [_item("rowstrack000000000002")])

        contexts = (
            await db_session.execute(
                select(Play.context_type, Play.context_uri, Play.reason_end).where(
                    Play.user_id == user.id
                )
            )
        ).all()
        assert [tuple(row) for row in contexts] == [(None, None, "trackdone")] * 3

    async def test_two_writes_in_one_transaction_store_each_row_once(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        origin = PlayOrigin(user.id, PlaySource.EXTENDED_EXPORT, None)
        writer = PlayWriter()
        first = [_row(n, "rowstrack000000000003") for n in range(5)]
        second = [_row(n, "rowstrack000000000003") for n in range(3, 8)]

        one = await writer.write_rows(db_session, origin, first, [_item("rowstrack000000000003")])
        two = await writer.write_rows(db_session, origin, second, [])

        assert (one, two) == (WriteResult(5, 0), WriteResult(3, 2))
        assert await _count(db_session, user.id) == 8

    async def test_staged_rows_are_stored_only_by_insert_staged(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        origin = PlayOrigin(user.id, PlaySource.EXTENDED_EXPORT)
        writer = PlayWriter()
        await writer.write_items(db_session, [_item("rowstrack000000000004")])
        rows = [_row(n, "rowstrack000000000004") for n in range(4)]

        staged = await writer.stage(db_session, origin, rows + rows[:1])
        before = await _count(db_session, user.id)
        result = await writer.insert_staged(db_session, staged)

        assert before == 0
        assert result == WriteResult(inserted=4, duplicates=1)
        assert await _count(db_session, user.id) == 4
