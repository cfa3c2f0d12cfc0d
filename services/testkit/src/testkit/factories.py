"""Plain async factories: `await create_user(session, **overrides)` states what a test sets up."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import ItemKind, PlaySource, UserStatus
from shared.db.models import Artist, Play, Track, TrackArtist, User

_sequence = itertools.count(1)


def _next() -> int:
    return next(_sequence)


async def create_user(session: AsyncSession, **overrides: Any) -> User:
    """A user, active, in UTC unless told otherwise."""
    n = _next()
    values: dict[str, Any] = {
        "spotify_user_id": f"user-{n}",
        "display_name": f"Listener {n}",
        "timezone": "UTC",
        "status": UserStatus.ACTIVE,
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    await session.flush()
    return user


async def create_artist(session: AsyncSession, **overrides: Any) -> Artist:
    """An artist with a Spotify-like ID."""
    n = _next()
    values: dict[str, Any] = {"id": f"artist{n:016d}", "name": f"Artist {n}"}
    values.update(overrides)
    artist = Artist(**values)
    session.add(artist)
    await session.flush()
    return artist


async def create_track(
    session: AsyncSession, *, artists: list[Artist] | None = None, **overrides: Any
) -> Track:
    """A track credited to the given artists (one new artist when none are given)."""
    n = _next()
    values: dict[str, Any] = {
        "id": f"track{n:017d}",
        "name": f"Track {n}",
        "album_name": f"Album {n}",
        "duration_ms": 200_000,
        "kind": ItemKind.TRACK,
    }
    values.update(overrides)
    track = Track(**values)
    session.add(track)
    await session.flush()
    for position, artist in enumerate(artists or [await create_artist(session)]):
        session.add(TrackArtist(track_id=track.id, artist_id=artist.id, position=position))
    await session.flush()
    return track


async def create_play(session: AsyncSession, *, user: User, track: Track, **overrides: Any) -> Play:
    """A play of a track by a user, ended a minute ago unless told otherwise."""
    values: dict[str, Any] = {
        "user_id": user.id,
        "track_id": track.id,
        "played_at": datetime.now(UTC) - timedelta(minutes=1),
        "ms_played": 180_000,
        "item_kind": track.kind,
        "source": PlaySource.API,
    }
    values.update(overrides)
    play = Play(**values)
    session.add(play)
    await session.flush()
    return play
