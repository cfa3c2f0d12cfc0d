"""Bulk inserts skip duplicates and count only new rows, in batches, on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import bulk
from shared.db.bulk import insert_ignoring_conflicts
from shared.db.models import Artist, Play
from testkit.factories import create_track, create_user


class TestInsertIgnoringConflicts:
    async def test_counts_new_rows_and_skips_existing(self, db_session: AsyncSession) -> None:
        now = datetime.now(UTC)
        rows: list[dict[str, object]] = [
            {"id": f"artist-{i}", "name": f"Artist {i}", "created_at": now, "updated_at": now}
            for i in range(5)
        ]
        assert await insert_ignoring_conflicts(db_session, Artist, rows[:3]) == 3
        assert await insert_ignoring_conflicts(db_session, Artist, rows) == 2
        total = await db_session.scalar(
            select(func.count()).select_from(Artist).where(Artist.id.like("artist-%"))
        )
        assert total == 5

    async def test_same_play_twice_is_one_play(
        self, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        rows = [
            {
                "user_id": user.id,
                "track_id": track.id,
                "played_at": start + timedelta(minutes=i),
                "ms_played": 1000,
                "source": "api",
                "item_kind": "track",
                "created_at": start,
            }
            for i in range(50)
        ]
        monkeypatch.setattr(bulk, "_MAX_PARAMETERS", 70)  # force batches of 10 rows
        assert await insert_ignoring_conflicts(db_session, Play, rows + rows[:20]) == 50
        assert await insert_ignoring_conflicts(db_session, Play, rows) == 0

    async def test_nothing_to_insert(self, db_session: AsyncSession) -> None:
        assert await insert_ignoring_conflicts(db_session, Play, []) == 0
