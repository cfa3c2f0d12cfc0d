"""What history questions take and what they answer, shared by the HTTP routes and the tools."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from app.history.window import MAX_WINDOW_DAYS

DEFAULT_MIN_MS = 30_000
"""A play counts when at least 30 seconds were played, as Spotify and its peers count."""


def _date_or_datetime(value: Any) -> Any:
    """Read `YYYY-MM-DD` as a date; anything longer is left to the datetime parser."""
    if isinstance(value, str) and len(value.strip()) == 10:
        return date.fromisoformat(value.strip())
    return value


DateOrDateTime = Annotated[datetime | date, BeforeValidator(_date_or_datetime)]


class PlayFilter(BaseModel):
    """Which plays a question is about: a window, a time zone, and what counts as a play."""

    days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW_DAYS,
        description="The last N days up to now. Not together with start/end; "
        "with neither, the whole history.",
    )
    start: DateOrDateTime | None = Field(
        default=None,
        description="Window start, included: an ISO date (local midnight in `tz`) or an ISO "
        "datetime (without an offset it is read in `tz`).",
    )
    end: DateOrDateTime | None = Field(
        default=None,
        description="Window end: an ISO date is included in full; an ISO datetime is excluded "
        "(without an offset it is read in `tz`). Must be after start.",
    )
    tz: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone (e.g. Europe/Stockholm) for day boundaries and hours of "
        "the day; the user's own time zone when omitted.",
    )
    include_episodes: bool = Field(
        default=False,
        description="Also count podcast episodes and audiobooks (music only by default).",
    )
    min_ms: int = Field(
        default=DEFAULT_MIN_MS,
        ge=0,
        le=3_600_000,
        description="A play counts when at least this many milliseconds were played.",
    )


class PeriodsFilter(BaseModel):
    """Two windows to compare (A and B), sharing a time zone and what counts as a play."""

    a_days: int | None = Field(
        default=None, ge=1, le=MAX_WINDOW_DAYS, description="Period A: the last N days."
    )
    a_start: DateOrDateTime | None = Field(default=None, description="Period A: start.")
    a_end: DateOrDateTime | None = Field(default=None, description="Period A: end.")
    b_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW_DAYS,
        description="Period B: the last N days. Without b_days, b_start and b_end, period B "
        "is as long as A and ends where A starts.",
    )
    b_start: DateOrDateTime | None = Field(default=None, description="Period B: start.")
    b_end: DateOrDateTime | None = Field(default=None, description="Period B: end.")
    tz: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone for both periods; the user's own when omitted.",
    )
    include_episodes: bool = Field(
        default=False, description="Also count podcast episodes and audiobooks."
    )
    min_ms: int = Field(
        default=DEFAULT_MIN_MS,
        ge=0,
        le=3_600_000,
        description="A play counts when at least this many milliseconds were played.",
    )

    def _period(self, days: int | None, start: Any, end: Any) -> PlayFilter:
        return PlayFilter(
            days=days,
            start=start,
            end=end,
            tz=self.tz,
            include_episodes=self.include_episodes,
            min_ms=self.min_ms,
        )

    def period_a(self) -> PlayFilter:
        """Period A (with neither days nor start/end: the whole history)."""
        return self._period(self.a_days, self.a_start, self.a_end)

    def period_b(self) -> PlayFilter | None:
        """Period B, or None when not given: then it is as long as A and right before it."""
        if self.b_days is None and self.b_start is None and self.b_end is None:
            return None
        return self._period(self.b_days, self.b_start, self.b_end)


class WindowOut(BaseModel):
    """The plays a result counts: the UTC window, the zone of local times, the play rules."""

    start: datetime | None = Field(description="First instant counted (UTC); null: from the start.")
    end: datetime | None = Field(description="First instant not counted (UTC); null: up to now.")
    timezone: str = Field(description="IANA zone used for day boundaries and hours.")
    include_episodes: bool
    min_ms: int


class HistoryResult(BaseModel):
    """Common head of every history answer."""

    user_id: int
    window: WindowOut


class ArtistPlays(BaseModel):
    """An artist's plays and listening minutes."""

    artist_id: str
    name: str
    plays: int
    minutes: float


class TopArtists(HistoryResult):
    """The most played artists; every credited artist of a track is credited with the play."""

    primary_only: bool = Field(
        description="Whether only each track's first-credited artist counts."
    )
    artists: list[ArtistPlays]


class TrackPlays(BaseModel):
    """A track's plays and listening minutes, with its artists in credit order."""

    track_id: str
    name: str
    kind: str = Field(description="track, episode or audiobook.")
    album_name: str | None
    artists: list[str] = Field(description="Artist names in credit order (at most 5).")
    plays: int
    minutes: float


class TopTracks(HistoryResult):
    """The most played tracks."""

    tracks: list[TrackPlays]


class HeatmapPeak(BaseModel):
    """The busiest hour of the week."""

    weekday: int = Field(description="0 = Monday ... 6 = Sunday.")
    hour: int = Field(description="Local hour, 0-23.")
    plays: int


class Heatmap(HistoryResult):
    """Plays by local weekday and hour of the day."""

    weekdays: list[str] = Field(description="Row labels: Monday first.")
    counts: list[list[int]] = Field(description="7 rows (Monday first) of 24 hourly counts.")
    total_plays: int
    peak: HeatmapPeak | None


class RepeatedTrack(TrackPlays):
    """A track played more than once in the window."""

    repeats: int = Field(description="Plays after the first one in the window.")


class RepeatRate(HistoryResult):
    """How much of the listening went to tracks already played in the window."""

    total_plays: int
    distinct_tracks: int
    repeat_plays: int = Field(description="Plays of a track already played earlier in the window.")
    repeat_rate: float = Field(description="repeat_plays / total_plays (0 without plays).")
    top_repeated: list[RepeatedTrack]


class PlaysBySource(BaseModel):
    """How many plays came from each source."""

    api: int = 0
    extended_export: int = 0
    account_export: int = 0


class ListeningGap(BaseModel):
    """A stretch without any counted play."""

    after: datetime = Field(description="The play before the gap (UTC).")
    before: datetime = Field(description="The play after the gap (UTC).")
    hours: float


class Coverage(HistoryResult):
    """How complete the history is: its extent, sources, days with plays and largest gaps."""

    total_plays: int
    first_play: datetime | None
    last_play: datetime | None
    plays_by_source: PlaysBySource
    days_with_plays: int = Field(description="Local dates with at least one play.")
    days_in_range: int = Field(
        description="Local dates in the window; an open start begins at the first play and an "
        "open end stops today."
    )
    day_coverage: float = Field(description="days_with_plays / days_in_range (0 when empty).")
    largest_gaps: list[ListeningGap]


class PartOfDay(BaseModel):
    """Plays by local part of the day."""

    night: int = Field(description="00:00-05:59")
    morning: int = Field(description="06:00-11:59")
    afternoon: int = Field(description="12:00-17:59")
    evening: int = Field(description="18:00-23:59")


class TasteSummary(HistoryResult):
    """A compact portrait of the listening in the window."""

    total_plays: int
    total_minutes: float
    distinct_artists: int
    distinct_tracks: int
    top_artists: list[ArtistPlays]
    top_tracks: list[TrackPlays]
    by_part_of_day: PartOfDay
    new_artists: int = Field(description="Artists first heard (ever) inside the window.")
    new_tracks: int = Field(description="Tracks first heard (ever) inside the window.")
    artist_discovery_share: float | None = Field(
        description="new_artists / distinct_artists; null for a window without a start."
    )
    track_discovery_share: float | None = Field(
        description="new_tracks / distinct_tracks; null for a window without a start."
    )


class PlayItem(BaseModel):
    """One play: when it ended (UTC and local), what was played, for how long, from where."""

    played_at: datetime = Field(description="When the play ended (UTC).")
    played_at_local: datetime = Field(description="The same instant in the answer's time zone.")
    track_id: str
    track_name: str
    kind: str = Field(description="track, episode or audiobook.")
    artists: list[str] = Field(description="Artist names in credit order (at most 5).")
    album_name: str | None
    ms_played: int
    source: str = Field(description="api, extended_export or account_export.")


class PlayHistory(HistoryResult):
    """A page of plays, newest first; pass next_cursor back as `cursor` for the next page."""

    artist: str | None = Field(description="The artist-name filter applied, if any.")
    track: str | None = Field(description="The track-name filter applied, if any.")
    source: str | None = Field(description="The source filter applied, if any.")
    plays: list[PlayItem]
    next_cursor: str | None = Field(
        description="Opaque position after the last play of this page; null on the last page."
    )


class SubjectCandidate(BaseModel):
    """An artist or track a name could mean, with its counted plays."""

    id: str
    name: str
    artists: list[str] = Field(description="For a track: its artists in credit order.")
    plays: int


class FirstListen(HistoryResult):
    """When an artist or track was first heard, how often since, and the latest play."""

    subject_kind: str = Field(description="artist or track.")
    subject: SubjectCandidate = Field(description="The artist or track the answer is about.")
    matched_by: str = Field(
        description="How the subject was found: id, exact_name (case-insensitive) or name_contains."
    )
    alternatives: list[SubjectCandidate] = Field(
        description="Other artists or tracks the name also matches, most played first "
        "(at most 10); ask again by id for one of them."
    )
    first_play: PlayItem
    last_play: PlayItem
    plays: int = Field(description="Counted plays from the first play on (inside the window).")
    minutes: float


class DiscoveredArtist(BaseModel):
    """An artist first heard inside the window, with its plays there."""

    artist_id: str
    name: str
    first_played_at: datetime = Field(description="The first play ever (UTC).")
    plays: int
    minutes: float


class DiscoveredTrack(BaseModel):
    """A track first heard inside the window, with its plays there."""

    track_id: str
    name: str
    kind: str = Field(description="track, episode or audiobook.")
    album_name: str | None
    artists: list[str] = Field(description="Artist names in credit order (at most 5).")
    first_played_at: datetime = Field(description="The first play ever (UTC).")
    plays: int
    minutes: float


class DiscoveryBucket(BaseModel):
    """New artists and tracks first heard in one local week, month or year."""

    start: date = Field(description="First local date of the bucket.")
    label: str = Field(description="e.g. 2024-03 (month), 2024-W10 (ISO week), 2024 (year).")
    new_artists: int
    new_tracks: int


class Discoveries(HistoryResult):
    """Artists and tracks whose first play ever falls inside the window, and when."""

    new_artists: int = Field(description="How many artists were first heard in the window.")
    new_tracks: int = Field(description="How many tracks were first heard in the window.")
    artists: list[DiscoveredArtist] = Field(description="Most played new artists first.")
    tracks: list[DiscoveredTrack] = Field(description="Most played new tracks first.")
    bucket: str = Field(description="Size of the timeline's buckets: week, month or year.")
    timeline: list[DiscoveryBucket] = Field(
        description="New artists and tracks per bucket, empty buckets included, oldest first."
    )


class PeriodSummary(BaseModel):
    """One period of a comparison: its window, totals and top artists."""

    window: WindowOut
    plays: int
    minutes: float
    distinct_artists: int
    distinct_tracks: int
    top_artists: list[ArtistPlays]


class PeriodChange(BaseModel):
    """Period A minus period B, and the relative change against B."""

    plays: int
    minutes: float
    distinct_artists: int
    distinct_tracks: int
    plays_percent: float | None = Field(
        description="(A - B) / B in percent, one decimal; null when B has no plays."
    )
    minutes_percent: float | None = Field(
        description="(A - B) / B in percent, one decimal; null when B has no minutes."
    )


class ArtistShift(BaseModel):
    """An artist's plays in both periods and the difference."""

    artist_id: str
    name: str
    plays_a: int
    plays_b: int
    change: int = Field(description="plays_a - plays_b.")


class PeriodComparison(BaseModel):
    """Two periods side by side: totals, the change, top artists, risers and fallers."""

    user_id: int
    period_a: PeriodSummary
    period_b: PeriodSummary
    change: PeriodChange
    risers: list[ArtistShift] = Field(
        description="Artists with the most plays gained in A compared with B (change > 0)."
    )
    fallers: list[ArtistShift] = Field(
        description="Artists with the most plays lost in A compared with B (change < 0)."
    )


class TimeBucket(BaseModel):
    """Plays and minutes in one local day, ISO week or month."""

    start: date = Field(description="First local date of the bucket.")
    label: str = Field(description="e.g. 2024-03-04 (day), 2024-W10 (ISO week), 2024-03 (month).")
    plays: int
    minutes: float


class ListeningTime(HistoryResult):
    """Plays and minutes per local day, ISO week or month, empty buckets included."""

    requested_bucket: str = Field(description="The bucket size asked for.")
    bucket: str = Field(
        description="The bucket size used: coarser than asked when days would exceed the "
        "limit of points."
    )
    total_plays: int
    total_minutes: float
    buckets: list[TimeBucket] = Field(description="Oldest first, from the window's first day.")
