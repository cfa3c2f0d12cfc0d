"""`HistoryToolHandlers`: the listening-history tools, thin calls into `HistoryService`."""

from __future__ import annotations

from pydantic import Field

from app.history.schemas import Coverage, Heatmap, RepeatRate, TasteSummary, TopArtists, TopTracks
from app.history.service import MAX_GAPS, MAX_LIST_LENGTH, MAX_TASTE_LIST_LENGTH, HistoryService
from app.mcp.registry import READ_ONLY_LOCAL, MCPToolRegistry, ToolContext
from app.mcp.tools.args import WindowArgs


class ListArgs(WindowArgs):
    """A window and the length of the list to return."""

    limit: int = Field(default=10, ge=1, le=MAX_LIST_LENGTH, description="How many items (1-100).")


class TopArtistsArgs(ListArgs):
    """Arguments of history.top_artists."""

    primary_only: bool = Field(
        default=False,
        description="Credit only each track's first artist, not featured artists.",
    )


class TasteSummaryArgs(WindowArgs):
    """Arguments of history.taste_summary."""

    limit: int = Field(
        default=5, ge=1, le=MAX_TASTE_LIST_LENGTH, description="Length of the top lists (1-20)."
    )


class CoverageArgs(WindowArgs):
    """Arguments of history.coverage."""

    gaps: int = Field(
        default=5, ge=1, le=MAX_GAPS, description="How many of the largest gaps to list (1-20)."
    )


_WINDOW_HELP = (
    " Window: `days` (the last N days), or `start`/`end` (ISO dates or datetimes), or neither "
    "for the whole history; times in the user's time zone unless `tz` is given. Music only "
    "unless include_episodes; a play counts from 30 s (min_ms)."
)


class HistoryToolHandlers:
    """The history.* tools."""

    def __init__(self, service: HistoryService) -> None:
        self._service = service

    def register(self, registry: MCPToolRegistry) -> None:
        """Add the history tools to the registry."""
        registry.add(
            name="history.taste_summary",
            title="Taste summary",
            description="A compact portrait of the user's listening: totals, top artists and "
            "tracks, parts of the day, and how much was newly discovered." + _WINDOW_HELP,
            args=TasteSummaryArgs,
            output=TasteSummary,
            handler=self.taste_summary,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.top_artists",
            title="Top artists",
            description="The user's most played artists by plays, then minutes; featured "
            "artists are credited too unless primary_only." + _WINDOW_HELP,
            args=TopArtistsArgs,
            output=TopArtists,
            handler=self.top_artists,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.top_tracks",
            title="Top tracks",
            description="The user's most played tracks with their artists, plays and minutes."
            + _WINDOW_HELP,
            args=ListArgs,
            output=TopTracks,
            handler=self.top_tracks,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.listening_heatmap",
            title="Listening heatmap",
            description="Plays by weekday and hour in the user's local time (DST included), "
            "and the busiest hour of the week." + _WINDOW_HELP,
            args=WindowArgs,
            output=Heatmap,
            handler=self.listening_heatmap,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.repeat_rate",
            title="Repeat rate",
            description="How much of the listening repeats tracks already played in the window, "
            "and the most repeated tracks." + _WINDOW_HELP,
            args=ListArgs,
            output=RepeatRate,
            handler=self.repeat_rate,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.coverage",
            title="History coverage",
            description="How complete the stored history is: first and last play, plays by "
            "source (API polling or privacy export), days with plays, and the largest gaps."
            + _WINDOW_HELP,
            args=CoverageArgs,
            output=Coverage,
            handler=self.coverage,
            annotations=READ_ONLY_LOCAL,
        )

    async def taste_summary(self, args: TasteSummaryArgs, ctx: ToolContext) -> TasteSummary:
        """history.taste_summary."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.taste_summary(
            ctx.session, user_id, args.play_filter(), limit=args.limit
        )

    async def top_artists(self, args: TopArtistsArgs, ctx: ToolContext) -> TopArtists:
        """history.top_artists."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.top_artists(
            ctx.session,
            user_id,
            args.play_filter(),
            limit=args.limit,
            primary_only=args.primary_only,
        )

    async def top_tracks(self, args: ListArgs, ctx: ToolContext) -> TopTracks:
        """history.top_tracks."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.top_tracks(
            ctx.session, user_id, args.play_filter(), limit=args.limit
        )

    async def listening_heatmap(self, args: WindowArgs, ctx: ToolContext) -> Heatmap:
        """history.listening_heatmap."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.heatmap(ctx.session, user_id, args.play_filter())

    async def repeat_rate(self, args: ListArgs, ctx: ToolContext) -> RepeatRate:
        """history.repeat_rate."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.repeat_rate(
            ctx.session, user_id, args.play_filter(), limit=args.limit
        )

    async def coverage(self, args: CoverageArgs, ctx: ToolContext) -> Coverage:
        """history.coverage."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.coverage(
            ctx.session, user_id, args.play_filter(), gaps=args.gaps
        )
