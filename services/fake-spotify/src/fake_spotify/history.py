"""Plausible listening histories: a personal taste, a daily rhythm and listening sessions."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from fake_spotify.catalogue import Catalogue, random_base62_id

ContextType = Literal["album", "artist", "playlist"]

# Relative chance that a listening session starts in each hour of the day (UTC is the
# listener's local time here): quiet nights, a commute bump, the evening peak.
_HOURLY_WEIGHTS = (
    1.0, 0.6, 0.3, 0.2, 0.2, 0.4, 1.2, 2.5, 3.2, 2.8, 2.4, 2.5,
    3.0, 2.8, 2.4, 2.4, 2.9, 3.8, 4.6, 5.2, 5.0, 4.2, 3.0, 1.8,
)  # fmt: skip
_SESSIONS_PER_DAY = (0, 1, 2, 3, 4, 5)
_SESSIONS_PER_DAY_WEIGHTS = (1, 3, 4, 3, 2, 1)
_SKIP_PROBABILITY = 0.15
# How many of the catalogue's artists one listener ever plays, and how steep the taste is.
_TASTE_SIZE = 140
_ZIPF_EXPONENT = 1.1


@dataclass(frozen=True, slots=True)
class PlayContext:
    """Where a play started from: an album, an artist page or a playlist."""

    type: ContextType
    id: str

    @property
    def uri(self) -> str:
        """The `spotify:<type>:<id>` URI of the context."""
        return f"spotify:{self.type}:{self.id}"


@dataclass(frozen=True, slots=True)
class Play:
    """One play in a user's history; `played_at` is UTC with millisecond precision."""

    track_id: str
    played_at: datetime
    context: PlayContext | None = None


class ListeningHistoryGenerator:
    """Generates one listener's plays from a seed: Zipf-ish artist taste, sessions, a day rhythm."""

    def __init__(self, catalogue: Catalogue, seed: str) -> None:
        self._catalogue = catalogue
        self._rng = random.Random(seed)  # noqa: S311 - reproducible history, not a secret
        self._artists, self._artist_weights = self._taste()
        self._playlists = [random_base62_id(self._rng) for _ in range(4)]

    def history(self, start: datetime, end: datetime) -> list[Play]:
        """Plays between start and end, oldest first, strictly increasing `played_at`."""
        plays: list[Play] = []
        cursor = start
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            sessions = self._rng.choices(_SESSIONS_PER_DAY, weights=_SESSIONS_PER_DAY_WEIGHTS)[0]
            hours = sorted(
                self._rng.choices(range(24), weights=_HOURLY_WEIGHTS, k=sessions),
            )
            for hour in hours:
                session_start = day + timedelta(hours=hour, minutes=self._rng.randint(0, 59))
                cursor = max(cursor, session_start)
                for play in self._session(cursor):
                    if play.played_at >= end:
                        return plays
                    if play.played_at > start:
                        plays.append(play)
                    cursor = play.played_at
            day += timedelta(days=1)
        return plays

    def plays_ending_at(self, count: int, end: datetime, not_before: datetime | None) -> list[Play]:
        """`count` back-to-back plays, the last one at `end`, all after `not_before`."""
        tracks = [self._pick_track() for _ in range(count)]
        durations = [self._listened_ms(track_id) for track_id in tracks]
        played_at = end
        stamps: list[datetime] = []
        for duration in reversed(durations):
            stamps.append(played_at)
            played_at -= timedelta(milliseconds=duration)
        stamps.reverse()
        if not_before is not None and stamps and stamps[0] <= not_before:
            # Squeeze the new plays in after the newest existing one, one millisecond apart at
            # worst, so `after` cursors always find every one of them.
            step = max(timedelta(milliseconds=1), (end - not_before) / (count + 1))
            stamps = [not_before + step * (i + 1) for i in range(count)]
        stamps = [truncate_to_millisecond(stamp) for stamp in stamps]
        return [
            Play(track_id=track, played_at=stamp, context=None)
            for track, stamp in zip(tracks, stamps, strict=True)
        ]

    def _taste(self) -> tuple[list[str], list[float]]:
        ranked = self._catalogue.artists_by_rank
        # Everyone likes popular artists more, but each listener reorders them a little.
        noisy = sorted(
            range(len(ranked)), key=lambda rank: (rank + 1) * self._rng.lognormvariate(0, 0.9)
        )
        artists = [ranked[rank] for rank in noisy[:_TASTE_SIZE]]
        weights = [1.0 / (position + 1) ** _ZIPF_EXPONENT for position in range(len(artists))]
        return artists, weights

    def _pick_artist(self) -> str:
        return self._rng.choices(self._artists, weights=self._artist_weights)[0]

    def _pick_track(self, artist_id: str | None = None) -> str:
        tracks = self._catalogue.tracks_by_artist[artist_id or self._pick_artist()]
        weights = [1.0 / (i + 1) ** 0.8 for i in range(len(tracks))]
        return self._rng.choices(tracks, weights=weights)[0]

    def _listened_ms(self, track_id: str) -> int:
        duration = self._catalogue.tracks[track_id].duration_ms
        if self._rng.random() < _SKIP_PROBABILITY:
            return self._rng.randint(4_000, min(duration, 60_000))
        return duration

    def _session(self, start: datetime) -> list[Play]:
        kind = self._rng.choices(("album", "playlist", "artist", None), weights=(35, 30, 15, 20))[0]
        length = self._rng.randint(3, 20)
        context: PlayContext | None = None
        if kind == "album":
            artist_id = self._pick_artist()
            albums = [
                album
                for album in self._catalogue.albums.values()
                if album.artist_ids[0] == artist_id
            ]
            album = self._rng.choice(albums)
            context = PlayContext(type="album", id=album.id)
            tracks = list(album.track_ids[:length])
        elif kind == "artist":
            artist_id = self._pick_artist()
            context = PlayContext(type="artist", id=artist_id)
            tracks = [self._pick_track(artist_id) for _ in range(min(length, 6))]
        else:
            if kind == "playlist":
                context = PlayContext(type="playlist", id=self._rng.choice(self._playlists))
            tracks = [self._pick_track() for _ in range(length)]

        plays = []
        cursor = start
        for track_id in tracks:
            cursor += timedelta(
                milliseconds=self._listened_ms(track_id) + self._rng.randint(0, 1500)
            )
            plays.append(Play(track_id=track_id, played_at=cursor, context=context))
        return plays


def truncate_to_millisecond(moment: datetime) -> datetime:
    """Drop microseconds below the millisecond: Spotify's timestamps carry milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
