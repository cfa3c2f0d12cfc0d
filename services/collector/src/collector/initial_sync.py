"""`InitialSyncService`: a new user's first back-fill, paging back through recently-played."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from collector.job_tracker import JobOutcome
from collector.polling import plays_from_history
from shared.db.enums import InitialSyncStatus
from shared.db.models import SyncCheckpoint
from shared.plays.writer import PlayWriter
from shared.spotify import SpotifyClient, TokenProvider
from shared.spotify.constants import RECENTLY_PLAYED_MAX_LIMIT
from shared.spotify.models import PlayHistoryItem

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backfill:
    """What paging back found, and why it stopped."""

    items: tuple[PlayHistoryItem, ...]
    requests: int
    stopped_because: str

    @property
    def newest_ms(self) -> int | None:
        """The newest `played_at` seen, in unix ms: where polling continues."""
        return max((item.played_at_ms for item in self.items), default=None)


class InitialSyncService:
    """Pages back with `before` until a request cap, an empty page, or no progress."""

    def __init__(
        self,
        client: SpotifyClient,
        *,
        max_requests: int,
        page_limit: int = RECENTLY_PLAYED_MAX_LIMIT,
        writer_factory: Callable[[], PlayWriter] = PlayWriter,
    ) -> None:
        self._client = client
        self._max_requests = max_requests
        self._page_limit = page_limit
        self._writer_factory = writer_factory

    async def fetch(self, tokens: TokenProvider) -> Backfill:
        """Every play Spotify still remembers, newest first, within the request cap."""
        items: list[PlayHistoryItem] = []
        before: int | None = None
        for request in range(1, self._max_requests + 1):
            page = await self._client.get_recently_played(
                tokens, limit=self._page_limit, before=before
            )
            if not page.items:
                return Backfill(tuple(items), request, "empty_page")
            items.extend(page.items)
            oldest = min(item.played_at_ms for item in page.items)
            if before is not None and oldest >= before:
                return Backfill(tuple(items), request, "no_progress")
            before = oldest
        return Backfill(tuple(items), self._max_requests, "request_cap")

    async def record(
        self,
        session: AsyncSession,
        user_id: int,
        backfill: Backfill,
        *,
        now: datetime,
        next_poll_at: datetime,
    ) -> JobOutcome:
        """Write the plays, mark the back-fill done and start polling after its newest play."""
        plays = plays_from_history(user_id, backfill.items)
        result = await self._writer_factory().write(session, plays)
        checkpoint = await session.get(SyncCheckpoint, user_id, with_for_update=True)
        if checkpoint is None:
            checkpoint = SyncCheckpoint(user_id=user_id, consecutive_failures=0)
            session.add(checkpoint)
        newest = backfill.newest_ms
        if newest is not None and (checkpoint.after_cursor_ms or 0) < newest:
            checkpoint.after_cursor_ms = newest
        checkpoint.initial_sync_status = InitialSyncStatus.DONE
        checkpoint.initial_sync_started_at = checkpoint.initial_sync_started_at or now
        checkpoint.initial_sync_completed_at = now
        checkpoint.last_success_at = now
        checkpoint.consecutive_failures = 0
        checkpoint.last_error = None
        checkpoint.deferred_until = None
        checkpoint.next_poll_at = next_poll_at
        await session.flush()
        return JobOutcome(
            records_fetched=len(backfill.items),
            records_inserted=result.inserted,
            records_skipped=result.duplicates,
            stats={
                "requests": backfill.requests,
                "stopped_because": backfill.stopped_because,
                "duplicates": result.duplicates,
                "after_cursor_ms": checkpoint.after_cursor_ms,
            },
        )
