"""`NormalizedPlay`: one play from any source, in the shape the database stores."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from shared.db.enums import ItemKind, PlaySource


def local_id(*parts: str) -> str:
    """`local:<sha1>` for an item an export names but gives no Spotify ID.

    Names are compared case-insensitively and with surrounding spaces ignored, so the same
    artist and track written slightly differently by two exports still meet.
    """
    key = "\x1f".join(part.strip().casefold() for part in parts)
    return "local:" + hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class NormalizedPlay:
    """A play with its item and credited artists, ready for `PlayWriter`.

    `played_at` is when the play ended, UTC, truncated to whole seconds: the API gives
    milliseconds and exports give seconds, and the same play must meet itself.
    `artist_ids` and `artist_names` run in credit order and have the same length.
    """

    user_id: int
    source: PlaySource
    item_kind: ItemKind
    track_id: str
    track_name: str
    played_at: datetime
    ms_played: int
    artist_ids: tuple[str, ...] = ()
    artist_names: tuple[str, ...] = ()
    album_id: str | None = None
    album_name: str | None = None
    show_name: str | None = None
    duration_ms: int | None = None
    isrc: str | None = None
    explicit: bool | None = None
    context_type: str | None = None
    context_uri: str | None = None
    reason_start: str | None = None
    reason_end: str | None = None
    skipped: bool | None = None
    shuffle: bool | None = None
    offline: bool | None = None
    platform: str | None = None
    import_job_id: int | None = None
