"""`HistoryToolHandlers`: the listening-history tools, thin calls into `HistoryService`."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from app.history.buckets import BucketSize
from app.history.schemas import (
    Coverage,
    Discoveries,
    FirstListen,
    Heatmap,
    ListeningTime,
    PeriodComparison,
    PeriodsFilter,
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
from app.mcp.registry import READ_ONLY_LOCAL, MCPToolRegistry, ToolContext
from app.mcp.tools.args import MAX_USER_ID, USER_ID_DESCRIPTION, WindowArgs
from shared.db.enums import PlaySource


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


class PlayHistoryArgs(WindowArgs):
    """Arguments of history.play_history."""

    artist: str | None = Field(
        default=None,
        max_length=MAX_NAME_LENGTH,
        description="Only plays of an artist whose name contains this (any case).",
    )
    track: str | None = Field(
        default=None,
        max_length=MAX_NAME_LENGTH,
        description="Only tracks whose name contains this (any case).",
    )
    source: PlaySource | None = Field(
        default=None, description="Only plays from this source (api, extended_export, ...)."
    )
    cursor: str | None = Field(
        default=None, max_length=200, description="next_cursor of the previous page."
    )
    limit: int = Field(default=50, ge=1, le=MAX_LIST_LENGTH, description="Plays per page (1-100).")


class FirstListenArgs(WindowArgs):
    """Arguments of history.first_listen: an artist or a track, by name or Spotify ID."""

    artist: str | None = Field(
        default=None,
        max_length=MAX_NAME_LENGTH,
        description="Artist name (any case; else part of a name); with track, the track's "
        "artist. Several matches: the most played is answered and the others are listed.",
    )
    artist_id: str | None = Field(
        default=None, max_length=64, description="Spotify artist ID instead of a name."
    )
    track: str | None = Field(
        default=None, max_length=MAX_NAME_LENGTH, description="Track name (any case)."
    )
    track_id: str | None = Field(
        default=None, max_length=64, description="Spotify track ID instead of a name."
    )


class DiscoveriesArgs(WindowArgs):
    """Arguments of history.discoveries."""

    limit: int = Field(default=10, ge=1, le=MAX_LIST_LENGTH, description="How many (1-100).")


class ListeningTimeArgs(WindowArgs):
    """Arguments of history.listening_time."""

    bucket: BucketSize = Field(
        default=BucketSize.MONTH, description="day, week (ISO) or month, in local time."
    )


class ComparePeriodsArgs(PeriodsFilter):
    """Arguments of history.compare_periods."""

    model_config = ConfigDict(extra="forbid")

    user_id: int | None = Field(default=None, ge=1, le=MAX_USER_ID, description=USER_ID_DESCRIPTION)
    limit: int = Field(default=10, ge=1, le=MAX_LIST_LENGTH, description="How many (1-100).")


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
        self._register_more(registry)

    def _register_more(self, registry: MCPToolRegistry) -> None:
        registry.add(
            name="history.play_history",
            title="Play history",
            description="The user's plays newest first with local times, filterable by artist, "
            "track or source; pass next_cursor back for older plays." + _WINDOW_HELP,
            args=PlayHistoryArgs,
            output=PlayHistory,
            handler=self.play_history,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.first_listen",
            title="First listen",
            description="When the user first heard an artist or a track (by name or Spotify "
            "ID), how often since, and the latest play.",
            args=FirstListenArgs,
            output=FirstListen,
            handler=self.first_listen,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.discoveries",
            title="Discoveries",
            description="Artists and tracks the user heard for the first time ever inside the "
            "window, by plays, and how many new ones per week or month." + _WINDOW_HELP,
            args=DiscoveriesArgs,
            output=Discoveries,
            handler=self.discoveries,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.compare_periods",
            title="Compare periods",
            description="Two periods side by side (e.g. this year and last): plays, minutes, "
            "distinct artists and tracks, top artists, and the artists that rose and fell most. "
            "Period A: a_days or a_start/a_end; period B likewise, or by default as long as A "
            "and right before it.",
            args=ComparePeriodsArgs,
            output=PeriodComparison,
            handler=self.compare_periods,
            annotations=READ_ONLY_LOCAL,
        )
        registry.add(
            name="history.listening_time",
            title="Listening time",
            description="Plays and minutes per local day, ISO week or month over the window, "
            "empty periods included, for trends and charts." + _WINDOW_HELP,
            args=ListeningTimeArgs,
            output=ListeningTime,
            handler=self.listening_time,
            annotations=READ_ONLY_LOCAL,
        )

    async def play_history(self, args: PlayHistoryArgs, ctx: ToolContext) -> PlayHistory:
        """history.play_history."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.play_history(
            ctx.session,
            user_id,
            args.play_filter(),
            artist=args.artist,
            track=args.track,
            source=args.source,
            cursor=args.cursor,
            limit=args.limit,
        )

    async def first_listen(self, args: FirstListenArgs, ctx: ToolContext) -> FirstListen:
        """history.first_listen."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.first_listen(
            ctx.session,
            user_id,
            args.play_filter(),
            artist=args.artist,
            artist_id=args.artist_id,
            track=args.track,
            track_id=args.track_id,
        )

    async def discoveries(self, args: DiscoveriesArgs, ctx: ToolContext) -> Discoveries:
        """history.discoveries."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.discoveries(
            ctx.session, user_id, args.play_filter(), limit=args.limit
        )

    async def compare_periods(self, args: ComparePeriodsArgs, ctx: ToolContext) -> PeriodComparison:
        """history.compare_periods."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.compare_periods(
            ctx.session, user_id, args.period_a(), args.period_b(), limit=args.limit
        )

    async def listening_time(self, args: ListeningTimeArgs, ctx: ToolContext) -> ListeningTime:
        """history.listening_time."""
        user_id = ctx.caller.resolve_user(args.user_id)
        return await self._service.listening_time(
            ctx.session, user_id, args.play_filter(), bucket=args.bucket
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
