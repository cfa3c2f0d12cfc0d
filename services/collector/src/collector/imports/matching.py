"""Account-data plays meet the same listens from precise sources, whichever comes first.

Account data gives the minute a play ended and names only; the extended export and the API
give the exact second and a Spotify ID. A listen from both is one play: an account play
matches a precise play of the same user that ended within its minute, of an item with the
same name by the same artist (for episodes, the same show), compared case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import PlaySource
from shared.db.models import Artist, Play, Track, TrackArtist
from shared.plays.model import NormalizedPlay
from shared.plays.writer import ItemRow, PlayRow

_MINUTE = timedelta(minutes=1)
# Ids per DELETE: well under the bound-parameter caps of both drivers.
_IDS_PER_DELETE = 10_000

MatchKey = tuple[datetime, str, str]
"""(minute the play ended, item name casefolded, artist or show casefolded)."""


StoredPlay = tuple[int, datetime, str, str | None, str | None]
"""(play id, played_at, item name, show name, credited artist name) of a stored play."""


async def _stored_plays(session: AsyncSession, *conditions: Any) -> list[StoredPlay]:
    """The plays meeting the conditions, once per credited artist (or once without one)."""
    query = (
        select(Play.id, Play.played_at, Track.name, Track.show_name, Artist.name)
        .join(Track, Track.id == Play.track_id)
        .outerjoin(TrackArtist, TrackArtist.track_id == Track.id)
        .outerjoin(Artist, Artist.id == TrackArtist.artist_id)
        .where(*conditions)
    )
    if session.get_bind().dialect.name != "sqlite":
        return [(row[0], row[1], row[2], row[3], row[4]) for row in await session.execute(query)]
    # SQLite hands rows out one step at a time and the driver takes the GIL back for each,
    # which behind the busy parser thread of an import costs milliseconds per row: one JSON
    # value holds them all instead. Timestamps are stored as UTC text.
    found = query.subquery()
    packed = await session.scalar(select(func.json_group_array(func.json_array(*found.c))))
    return [
        (play_id, datetime.fromisoformat(played_at).replace(tzinfo=UTC), name, show, artist)
        for play_id, played_at, name, show, artist in orjson.loads(packed or "[]")
    ]


def _keys(minute: datetime, name: str, creators: Sequence[str | None]) -> list[MatchKey]:
    folded = name.casefold()
    return [(minute, folded, creator.casefold()) for creator in creators if creator]


class AccountPlayMatcher:
    """Finds account-data plays already stored from a more precise source."""

    async def already_stored(
        self, session: AsyncSession, user_id: int, plays: Sequence[NormalizedPlay]
    ) -> set[int]:
        """Indexes of the plays that match a stored play; one query per batch."""
        if not plays:
            return set()
        start = min(play.played_at for play in plays)
        end = max(play.played_at for play in plays) + _MINUTE
        rows = await _stored_plays(
            session,
            Play.user_id == user_id,
            Play.played_at >= start,
            Play.played_at < end,
            Play.source != PlaySource.ACCOUNT_EXPORT,
        )
        stored: set[MatchKey] = set()
        for _play_id, played_at, name, show_name, artist_name in rows:
            minute = played_at.replace(second=0, microsecond=0)
            stored.update(_keys(minute, name, (artist_name, show_name)))
        matched: set[int] = set()
        for index, play in enumerate(plays):
            creator = play.show_name or (play.artist_names[0] if play.artist_names else "")
            if (play.played_at, play.track_name.casefold(), creator.casefold()) in stored:
                matched.add(index)
        return matched


@dataclass(frozen=True, slots=True)
class Replacements:
    """Extended rows split by whether they replace stored account-data plays."""

    replacing: list[PlayRow] = field(default_factory=list)
    """Rows of listens an account play already stands for."""
    others: list[PlayRow] = field(default_factory=list)
    """All the other rows, in their order."""
    account_play_ids: set[int] = field(default_factory=set)
    """The account plays the replacing rows take the place of."""


class AccountPlayReplacer:
    """Finds account-data plays that extended-history rows of the same listens replace.

    Account data imported first leaves minute-precision plays with `local:` ids; when the
    extended export arrives later, its precise row takes the account play's place (the
    account play is deleted, the row stored), so the listen stays one play. When no account
    play of the user falls within the rows' time span, this costs one empty range query.
    """

    async def find(
        self,
        session: AsyncSession,
        user_id: int,
        rows: Sequence[PlayRow],
        items: Mapping[str, ItemRow],
        spans: Sequence[tuple[datetime, datetime]],
    ) -> Replacements:
        """Split the rows; `items` holds the item of every row's track id, and `spans` the
        time spans the rows' plays ended in (one query per span, after merging overlaps)."""
        stored: dict[MatchKey, set[int]] = {}
        for start, end in _merged(spans):
            result = await _stored_plays(
                session,
                Play.user_id == user_id,
                Play.played_at >= start.replace(second=0),
                Play.played_at <= end,
                Play.source == PlaySource.ACCOUNT_EXPORT,
            )
            for play_id, played_at, name, show_name, artist_name in result:
                for key in _keys(played_at.replace(second=0), name, (artist_name, show_name)):
                    stored.setdefault(key, set()).add(play_id)
        if not stored:
            return Replacements(others=list(rows))
        replacements = Replacements()
        for row in rows:
            item = items[row[0]]
            keys = _keys(row[1].replace(second=0), item.name, (item.creator,))
            account_play_ids = stored.get(keys[0]) if keys else None
            if account_play_ids:
                replacements.replacing.append(row)
                replacements.account_play_ids.update(account_play_ids)
            else:
                replacements.others.append(row)
        return replacements

    async def delete_replaced(self, session: AsyncSession, replacements: Replacements) -> int:
        """Delete the account plays the rows replace; returns how many were deleted."""
        ids = sorted(replacements.account_play_ids)
        deleted = 0
        for start in range(0, len(ids), _IDS_PER_DELETE):
            result = await session.execute(
                delete(Play)
                .where(
                    Play.id.in_(ids[start : start + _IDS_PER_DELETE]),
                    Play.source == PlaySource.ACCOUNT_EXPORT,
                )
                .execution_options(synchronize_session=False)
            )
            deleted += max(cast("CursorResult[Any]", result).rowcount, 0)
        return deleted


def _merged(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The spans with overlapping ones joined, in time order."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
