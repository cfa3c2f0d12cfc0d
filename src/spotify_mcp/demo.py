"""`make demo`'s data: a demo user whose months of plays match what the fake Spotify serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fake_spotify.state import DEFAULT_SEED, FakeSpotifyState
from shared.db.base import utc_now
from shared.db.bulk import insert_ignoring_conflicts
from shared.db.enums import InitialSyncStatus, ItemKind, PlaySource, UserStatus
from shared.db.manager import DatabaseManager
from shared.db.models import Artist, Play, SyncCheckpoint, Track, TrackArtist, User

DEMO_USER_ID = "demo"
DEMO_TIMEZONE = "Europe/Stockholm"
DEFAULT_ANCHOR_FILE = Path("data") / "demo-anchor.txt"


@dataclass(frozen=True)
class DemoSeed:
    """What the demo database holds for the demo user."""

    spotify_user_id: str
    plays: int
    history_anchor: datetime


class DemoSeeder:
    """Writes the fake Spotify's demo history into the database once."""

    def __init__(
        self,
        database: DatabaseManager,
        *,
        anchor_file: Path = DEFAULT_ANCHOR_FILE,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self._database = database
        self._anchor_file = anchor_file
        self._seed = seed

    def history_anchor(self) -> datetime:
        """The moment the demo history ends at, fixed at the first demo run."""
        if self._anchor_file.exists():
            return datetime.fromisoformat(self._anchor_file.read_text(encoding="utf-8").strip())
        anchor = datetime.now(UTC).replace(microsecond=0)
        self._anchor_file.parent.mkdir(parents=True, exist_ok=True)
        self._anchor_file.write_text(anchor.isoformat(), encoding="utf-8")
        return anchor

    async def seed(self) -> DemoSeed:
        """Create the demo user and its plays unless they are already there."""
        anchor = self.history_anchor()
        async with self._database.session() as session:
            user = await session.scalar(select(User).where(User.spotify_user_id == DEMO_USER_ID))
            if user is None:
                user = await self._create(session, anchor)
            count = await session.scalar(
                select(func.count()).select_from(Play).where(Play.user_id == user.id)
            )
        return DemoSeed(DEMO_USER_ID, int(count or 0), anchor)

    async def _create(self, session: AsyncSession, anchor: datetime) -> User:
        fake = FakeSpotifyState(seed=self._seed, history_anchor=anchor)
        profile = fake.users[DEMO_USER_ID].profile
        history = fake.users[DEMO_USER_ID].plays
        catalogue = fake.catalogue

        user = User(
            spotify_user_id=profile.id,
            display_name=profile.display_name,
            country=profile.country,
            product=profile.product,
            timezone=DEMO_TIMEZONE,
            status=UserStatus.ACTIVE,
        )
        session.add(user)
        await session.flush()

        track_ids = sorted({play.track_id for play in history})
        tracks = [catalogue.tracks[track_id] for track_id in track_ids]
        artist_ids = sorted({artist for track in tracks for artist in track.artist_ids})
        now = utc_now()
        await insert_ignoring_conflicts(
            session,
            Artist,
            [
                {
                    "id": artist_id,
                    "name": catalogue.artists[artist_id].name,
                    "genres": list(catalogue.artists[artist_id].genres),
                    "created_at": now,
                    "updated_at": now,
                }
                for artist_id in artist_ids
            ],
        )
        await insert_ignoring_conflicts(
            session,
            Track,
            [
                {
                    "id": track.id,
                    "kind": ItemKind.TRACK.value,
                    "name": track.name,
                    "album_id": track.album_id,
                    "album_name": catalogue.albums[track.album_id].name,
                    "duration_ms": track.duration_ms,
                    "isrc": track.isrc,
                    "explicit": track.explicit,
                    "created_at": now,
                    "updated_at": now,
                }
                for track in tracks
            ],
        )
        await insert_ignoring_conflicts(
            session,
            TrackArtist,
            [
                {"track_id": track.id, "artist_id": artist_id, "position": position}
                for track in tracks
                for position, artist_id in enumerate(track.artist_ids)
            ],
        )
        await insert_ignoring_conflicts(
            session,
            Play,
            [
                {
                    "user_id": user.id,
                    "track_id": play.track_id,
                    "played_at": play.played_at,
                    "ms_played": catalogue.tracks[play.track_id].duration_ms,
                    "item_kind": ItemKind.TRACK.value,
                    "source": PlaySource.API.value,
                    "context_type": play.context.type if play.context else None,
                    "context_uri": play.context.uri if play.context else None,
                    "created_at": now,
                }
                for play in history
            ],
        )
        newest = max((play.played_at for play in history), default=None)
        session.add(
            SyncCheckpoint(
                user_id=user.id,
                initial_sync_status=InitialSyncStatus.DONE,
                initial_sync_completed_at=now,
                after_cursor_ms=int(newest.timestamp() * 1000) if newest else None,
                next_poll_at=now,
            )
        )
        await session.flush()
        return user
