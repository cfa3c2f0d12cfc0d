"""`/history/users/{user_id}/...`: listening statistics over HTTP, behind admin auth."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from app.admin.auth import AdminAuthProvider
from app.dependencies import DbSession
from app.errors import ErrorEnvelope
from app.history.schemas import (
    Coverage,
    Heatmap,
    PlayFilter,
    RepeatRate,
    TasteSummary,
    TopArtists,
    TopTracks,
)
from app.history.service import MAX_GAPS, MAX_LIST_LENGTH, MAX_TASTE_LIST_LENGTH, HistoryService

UserId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The user's ID.")]
Filters = Annotated[PlayFilter, Query()]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIST_LENGTH, description="How many items to return (1-100).")
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "Contradictory window or unknown time zone."},
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
