"""The demo database holds exactly the history the demo's fake Spotify serves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from fake_spotify.state import FakeSpotifyState
from shared.db.models import Play, SyncCheckpoint, User
from spotify_mcp.demo import DEMO_USER_ID, DemoSeeder
from testkit.plugin import FreshDatabase


class TestDemoSeeder:
    async def test_seeds_the_fakes_history_once(
        self, fresh_database: FreshDatabase, tmp_path: Path
    ) -> None:
        database = await fresh_database()
        anchor_file = tmp_path / "anchor.txt"
        anchor_file.write_text("2026-06-01T12:00:00+00:00")
        seeder = DemoSeeder(database, anchor_file=anchor_file)

        first = await seeder.seed()
        again = await seeder.seed()

        expected = FakeSpotifyState(history_anchor=datetime(2026, 6, 1, 12, tzinfo=UTC))
        history = expected.users[DEMO_USER_ID].plays
        assert first.plays == again.plays == len(history) > 1000
        async with database.session() as session:
            result = await session.execute(select(Play.track_id, Play.played_at))
            stored = {(track_id, played_at) for track_id, played_at in result.all()}
            users = await session.scalar(select(func.count()).select_from(User))
            user = await session.scalar(select(User).where(User.spotify_user_id == DEMO_USER_ID))
            assert user is not None
            checkpoint = await session.get(SyncCheckpoint, user.id)
        assert stored == {(play.track_id, play.played_at) for play in history}
        assert users == 1
        assert checkpoint is not None
        newest = max(play.played_at for play in history)
        assert checkpoint.after_cursor_ms == int(newest.timestamp() * 1000)

    async def test_anchor_is_fixed_at_the_first_run(
        self, fresh_database: FreshDatabase, tmp_path: Path
    ) -> None:
        database = await fresh_database()
        anchor_file = tmp_path / "data" / "anchor.txt"
        first = DemoSeeder(database, anchor_file=anchor_file).history_anchor()
        assert DemoSeeder(database, anchor_file=anchor_file).history_anchor() == first
