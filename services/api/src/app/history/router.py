"""`/history/users/{user_id}/...`: listening statistics over HTTP, behind admin auth."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from app.admin.auth import AdminAuthProvider
from app.dependencies import DbSession
from app.errors import ErrorEnvelope
from app.history.buckets import BucketSize
from app.history.schemas import (
    Coverage,
    Discoveries,
    FirstListen,
    Heatmap,
    ListeningTime,
    PeriodComparison,
    PeriodsFilter,
    PlayFilter,
    PlayHistory,
    RepeatRate,
    TasteSummary,
    TopArtists,
    TopTracks,
)
from app.history.service import (
    MAX_GAPS,
    MAX_LIST_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TASTE_LIST_LENGTH,
    HistoryService,
)
from shared.db.enums import PlaySource

UserId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The user's ID.")]
Filters = Annotated[PlayFilter, Query()]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIST_LENGTH, description="How many items to return (1-100).")
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorEnvelope,
        "description": "Contradictory window, unknown time zone or invalid argument.",
    },
    401: {"model": ErrorEnvelope, "description": "Admin credentials missing or wrong."},
    404: {"model": ErrorEnvelope, "description": "No such user."},
}


class HistoryRouter:
    """The history routes; each one is a thin call into `HistoryService`."""

    def __init__(self, service: HistoryService, auth: AdminAuthProvider) -> None:
        self._service = service
        self.router = APIRouter(
            prefix="/history", tags=["history"], dependencies=[Depends(auth)], responses=_ERRORS
        )
        routes: list[tuple[str, Any, type[Any]]] = [
            ("/top-artists", self.top_artists, TopArtists),
            ("/top-tracks", self.top_tracks, TopTracks),
            ("/heatmap", self.heatmap, Heatmap),
            ("/repeat-rate", self.repeat_rate, RepeatRate),
            ("/coverage", self.coverage, Coverage),
            ("/taste-summary", self.taste_summary, TasteSummary),
            ("/plays", self.play_history, PlayHistory),
            ("/first-listen", self.first_listen, FirstListen),
            ("/discoveries", self.discoveries, Discoveries),
            ("/compare-periods", self.compare_periods, PeriodComparison),
            ("/listening-time", self.listening_time, ListeningTime),
        ]
        for path, endpoint, model in routes:
            self.router.add_api_route(
                "/users/{user_id}" + path, endpoint, methods=["GET"], response_model=model
            )

    async def top_artists(
        self,
        session: DbSession,
        user_id: UserId,
        filters: Filters,
        limit: Limit = 10,
        primary_only: Annotated[
            bool,
            Query(description="Credit only each track's first artist, not featured artists."),
        ] = False,
    ) -> TopArtists:
        """Most played artists by plays, then minutes; featured artists count too by default."""
        return await self._service.top_artists(
            session, user_id, filters, limit=limit, primary_only=primary_only
        )

    async def top_tracks(
        self, session: DbSession, user_id: UserId, filters: Filters, limit: Limit = 10
    ) -> TopTracks:
        """Most played tracks with their artists in credit order, plays and minutes."""
        return await self._service.top_tracks(session, user_id, filters, limit=limit)

    async def heatmap(self, session: DbSession, user_id: UserId, filters: Filters) -> Heatmap:
        """Plays by weekday and hour in the user's (or `tz`'s) local time, DST included."""
        return await self._service.heatmap(session, user_id, filters)

    async def repeat_rate(
        self, session: DbSession, user_id: UserId, filters: Filters, limit: Limit = 10
    ) -> RepeatRate:
        """Share of plays repeating a track already played in the window, and the top repeats."""
        return await self._service.repeat_rate(session, user_id, filters, limit=limit)

    async def coverage(
        self,
        session: DbSession,
        user_id: UserId,
        filters: Filters,
        gaps: Annotated[
            int, Query(ge=1, le=MAX_GAPS, description="How many of the largest gaps to list.")
        ] = 5,
    ) -> Coverage:
        """How complete the history is: extent, sources, days with plays and the largest gaps."""
        return await self._service.coverage(session, user_id, filters, gaps=gaps)

    async def taste_summary(
        self,
        session: DbSession,
        user_id: UserId,
        filters: Filters,
        limit: Annotated[
            int,
            Query(ge=1, le=MAX_TASTE_LIST_LENGTH, description="Length of the top lists (1-20)."),
        ] = 5,
    ) -> TasteSummary:
        """A compact portrait: top artists and tracks, totals, parts of the day, discoveries."""
        return await self._service.taste_summary(session, user_id, filters, limit=limit)

    async def play_history(
        self,
        session: DbSession,
        user_id: UserId,
        filters: Filters,
        artist: Annotated[
            str | None,
            Query(
                max_length=MAX_NAME_LENGTH,
                description="Only plays of an artist whose name contains this (any case).",
            ),
        ] = None,
        track: Annotated[
            str | None,
            Query(
                max_length=MAX_NAME_LENGTH,
                description="Only tracks whose name contains this (any case).",
            ),
        ] = None,
        source: Annotated[
            PlaySource | None, Query(description="Only plays from this source.")
        ] = None,
        cursor: Annotated[
            str | None,
            Query(max_length=200, description="next_cursor of the previous page."),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIST_LENGTH, description="Plays per page (1-100).")
        ] = 50,
    ) -> PlayHistory:
        """The user's plays newest first with local times; follow next_cursor for older ones."""
        return await self._service.play_history(
            session,
            user_id,
            filters,
            artist=artist,
            track=track,
            source=source,
            cursor=cursor,
            limit=limit,
        )

    async def first_listen(
        self,
        session: DbSession,
        user_id: UserId,
        filters: Filters,
        artist: Annotated[
            str | None,
            Query(
                max_length=MAX_NAME_LENGTH,
                description="Artist name (any case; else a part of a name); with track, the "
                "track's artist. Several matches: the most played is answered, others listed.",
            ),
        ] = None,
        artist_id: Annotated[
            str | None, Query(max_length=64, description="Spotify artist ID.")
        ] = None,
        track: Annotated[
            str | None, Query(max_length=MAX_NAME_LENGTH, description="Track name.")
        ] = None,
        track_id: Annotated[
            str | None, Query(max_length=64, description="Spotify track ID.")
        ] = None,
    ) -> FirstListen:
        """When an artist or track was first heard, plays since and the latest (404 if never)."""
        return await self._service.first_listen(
            session,
            user_id,
            filters,
            artist=artist,
            artist_id=artist_id,
            track=track,
            track_id=track_id,
        )

    async def discoveries(
        self, session: DbSession, user_id: UserId, filters: Filters, limit: Limit = 10
    ) -> Discoveries:
        """Artists and tracks first heard inside the window, and how many per week or month."""
        return await self._service.discoveries(session, user_id, filters, limit=limit)

    async def compare_periods(
        self,
        session: DbSession,
        user_id: UserId,
        periods: Annotated[PeriodsFilter, Query()],
        limit: Limit = 10,
    ) -> PeriodComparison:
        """Two periods side by side: totals, A minus B, top artists, risers and fallers."""
        return await self._service.compare_periods(
            session, user_id, periods.period_a(), periods.period_b(), limit=limit
        )

    async def listening_time(
        self,
        session: DbSession,
        user_id: UserId,
        filters: Filters,
        bucket: Annotated[
            BucketSize, Query(description="day, week (ISO, from Monday), month or year.")
        ] = BucketSize.DAY,
    ) -> ListeningTime:
        """Plays and minutes per local day, ISO week or month, empty buckets included."""
        return await self._service.listening_time(session, user_id, filters, bucket=bucket)
