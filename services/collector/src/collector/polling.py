"""Polling recently-played with the `after` cursor, so no play between two polls is lost."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from collector.job_tracker import JobOutcome
from shared.db.enums import ItemKind, PlaySource
from shared.db.models import SyncCheckpoint
from shared.plays.model import NormalizedPlay, local_id
from shared.plays.writer import PlayWriter
from shared.spotify import SpotifyClient, TokenProvider
from shared.spotify.constants import RECENTLY_PLAYED_MAX_LIMIT
from shared.spotify.models import PlayHistoryItem

logger = logging.getLogger(__name__)

# Pages of one poll: at the recently-played retention (~50) one page is normal; the cap only
# stops a misbehaving cursor from looping forever.
MAX_POLL_PAGES = 20


@dataclass(frozen=True, slots=True)
class FetchedPlays:
    """Play-history items fetched from Spotify, with what the fetch noticed on the way."""

    items: tuple[PlayHistoryItem, ...]
    requests: int
    full_pages: int
    stopped_because: str

    @property
    def newest_ms(self) -> int | None:
        """The newest `played_at` seen, in unix ms (the next `after` cursor)."""
        return max((item.played_at_ms for item in self.items), default=None)


class RecentlyPlayedPoller:
    """Pages forward from the `after` cursor until Spotify has nothing newer."""

    def __init__(
        self,
        client: SpotifyClient,
        *,
        page_limit: int = RECENTLY_PLAYED_MAX_LIMIT,
        max_pages: int = MAX_POLL_PAGES,
    ) -> None:
        self._client = client
        self._page_limit = page_limit
        self._max_pages = max_pages

    async def fetch_after(self, tokens: TokenProvider, after_ms: int | None) -> FetchedPlays:
        """Every play newer than `after_ms` Spotify still remembers (the newest page if None)."""
        items: list[PlayHistoryItem] = []
        full_pages = 0
        cursor = after_ms
        for request in range(1, self._max_pages + 1):
            page = await self._client.get_recently_played(
                tokens, limit=self._page_limit, after=cursor
            )
            items.extend(page.items)
            if len(page.items) >= self._page_limit:
                full_pages += 1
            if len(page.items) < self._page_limit:
                reason = "caught_up"
            elif cursor is None:
                reason = "no_cursor"  # without a cursor Spotify serves only the newest page
            else:
                newest = max(item.played_at_ms for item in page.items)
                if newest <= cursor:
                    reason = "no_progress"
                else:
                    cursor = newest
                    continue
            return FetchedPlays(tuple(items), request, full_pages, reason)
        return FetchedPlays(tuple(items), self._max_pages, full_pages, "page_cap")


class PollingService:
    """Stores a poll's plays and advances the user's cursor in the caller's transaction."""

    def __init__(self, writer_factory: Callable[[], PlayWriter] = PlayWriter) -> None:
        self._writer_factory = writer_factory

    async def record(
        self,
        session: AsyncSession,
        user_id: int,
        fetched: FetchedPlays,
        *,
        started_at: datetime,
        now: datetime,
        next_poll_at: datetime,
    ) -> JobOutcome:
        """Write the plays, then move the cursor past them (flush, no commit)."""
        plays = plays_from_history(user_id, fetched.items)
        result = await self._writer_factory().write(session, plays)
        checkpoint = await session.get(SyncCheckpoint, user_id, with_for_update=True)
        if checkpoint is None:
            checkpoint = SyncCheckpoint(user_id=user_id, consecutive_failures=0)
            session.add(checkpoint)
        newest = fetched.newest_ms
        if newest is not None and (checkpoint.after_cursor_ms or 0) < newest:
            checkpoint.after_cursor_ms = newest
        checkpoint.last_poll_started_at = started_at
        checkpoint.last_poll_completed_at = now
        checkpoint.last_success_at = now
        checkpoint.consecutive_failures = 0
        checkpoint.last_error = None
        checkpoint.deferred_until = None
        checkpoint.next_poll_at = next_poll_at
        await session.flush()
        # A full page means Spotify may have had more than it could show: plays older than
        # its retention window can be missing between the cursor and this page.
        possible_gap = fetched.full_pages > 0
        if possible_gap:
            logger.warning(
                "recently-played came back full: plays may have been missed since the last poll"
            )
        stats = {
            "requests": fetched.requests,
            "full_pages": fetched.full_pages,
            "possible_gap": possible_gap,
            "stopped_because": fetched.stopped_because,
            "duplicates": result.duplicates,
            "after_cursor_ms": checkpoint.after_cursor_ms,
        }
        return JobOutcome(
            records_fetched=len(fetched.items),
            records_inserted=result.inserted,
            records_skipped=result.duplicates,
            stats=stats,
        )


def plays_from_history(user_id: int, items: Sequence[PlayHistoryItem]) -> list[NormalizedPlay]:
    """The recently-played items as plays to store."""
    return [play_from_history(user_id, item) for item in items]


def play_from_history(user_id: int, item: PlayHistoryItem) -> NormalizedPlay:
    """One recently-played item as a play: whole-second time, Spotify IDs where known."""
    track = item.track
    names = tuple(artist.name for artist in track.artists)
    artist_ids = tuple(
        artist.id if artist.id else local_id(artist.name) for artist in track.artists
    )
    album = track.album
    track_id = track.id or local_id(names[0] if names else "", track.name)
    return NormalizedPlay(
        user_id=user_id,
        source=PlaySource.API,
        item_kind=ItemKind.TRACK,
        track_id=track_id,
        track_name=track.name,
        played_at=item.played_at.astimezone(UTC).replace(microsecond=0),
        # recently-played does not say how long the play lasted; the track's length is the
        # best estimate Spotify gives.
        ms_played=track.duration_ms,
        artist_ids=artist_ids,
        artist_names=names,
        album_id=album.id if album is not None else None,
        album_name=album.name if album is not None else None,
        duration_ms=track.duration_ms,
        isrc=track.isrc,
        explicit=track.explicit,
        context_type=item.context.type if item.context is not None else None,
        context_uri=item.context.uri if item.context is not None else None,
    )
