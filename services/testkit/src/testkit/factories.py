"""Plain async factories: `await create_user(session, **overrides)` states what a test sets up."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import (
    ImportStatus,
    ItemKind,
    JobStatus,
    JobType,
    PlaySource,
    TokenScope,
    UserStatus,
)
from shared.db.models import (
    ApiToken,
    Artist,
    ImportJob,
    JobRun,
    LogEntry,
    Play,
    SpotifyToken,
    SyncCheckpoint,
    Track,
    TrackArtist,
    User,
)

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


async def create_episode(session: AsyncSession, **overrides: Any) -> Track:
    """A podcast episode: a track row of kind episode, with a show and no artists."""
    n = _next()
    values: dict[str, Any] = {
        "id": f"episode{n:015d}",
        "name": f"Episode {n}",
        "show_name": f"Show {n}",
        "duration_ms": 1_800_000,
        "kind": ItemKind.EPISODE,
    }
    values.update(overrides)
    episode = Track(**values)
    session.add(episode)
    await session.flush()
    return episode


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


async def create_spotify_token(
    session: AsyncSession, *, user: User, **overrides: Any
) -> SpotifyToken:
    """Stored Spotify tokens of a user (placeholder ciphertext), valid for an hour."""
    values: dict[str, Any] = {
        "user_id": user.id,
        "access_token_encrypted": f"encrypted-access-{_next()}",
        "refresh_token_encrypted": f"encrypted-refresh-{_next()}",
        "scope": "user-read-recently-played user-top-read",
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
    }
    values.update(overrides)
    token = SpotifyToken(**values)
    session.add(token)
    await session.flush()
    return token


async def create_checkpoint(
    session: AsyncSession, *, user: User, **overrides: Any
) -> SyncCheckpoint:
    """A user's sync checkpoint, never polled unless told otherwise."""
    values: dict[str, Any] = {"user_id": user.id, "consecutive_failures": 0}
    values.update(overrides)
    checkpoint = SyncCheckpoint(**values)
    session.add(checkpoint)
    await session.flush()
    return checkpoint


async def create_import_job(session: AsyncSession, *, user: User, **overrides: Any) -> ImportJob:
    """A pending import of an uploaded archive (the file itself is not created)."""
    n = _next()
    values: dict[str, Any] = {
        "user_id": user.id,
        "original_filename": f"my_spotify_data_{n}.zip",
        "stored_path": f"{user.id}/{n}.zip",
        "size_bytes": 1024,
        "sha256": f"{n:064x}",
        "status": ImportStatus.PENDING,
    }
    values.update(overrides)
    job = ImportJob(**values)
    session.add(job)
    await session.flush()
    return job


async def create_job_run(session: AsyncSession, **overrides: Any) -> JobRun:
    """A pending poll job run (for no user unless told otherwise)."""
    values: dict[str, Any] = {"job_type": JobType.POLL, "status": JobStatus.PENDING}
    values.update(overrides)
    job = JobRun(**values)
    session.add(job)
    await session.flush()
    return job


async def create_log_entry(session: AsyncSession, **overrides: Any) -> LogEntry:
    """An INFO line of the api service, logged now unless told otherwise."""
    values: dict[str, Any] = {
        "service": "api",
        "level": "INFO",
        "logger": "app",
        "message": f"Log line {_next()}",
    }
    values.update(overrides)
    entry = LogEntry(**values)
    session.add(entry)
    await session.flush()
    return entry


async def create_api_token(session: AsyncSession, **overrides: Any) -> ApiToken:
    """A tool token: scoped to `user_id` when one is given, else admin-wide."""
    n = _next()
    values: dict[str, Any] = {
        "name": f"token {n}",
        "token_hash": f"{n:064x}",
        "token_prefix": f"smcp_{n}",
        "scope": TokenScope.USER if overrides.get("user_id") is not None else TokenScope.ADMIN,
    }
    values.update(overrides)
    token = ApiToken(**values)
    session.add(token)
    await session.flush()
    return token
