"""Spotify's responses as pydantic models, tolerant of the fields Development Mode drops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SpotifyModel(BaseModel):
    """Base of every response model: unknown fields are ignored, instances are immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class TimeRange(StrEnum):
    """The window Spotify computes top items over."""

    SHORT_TERM = "short_term"
    MEDIUM_TERM = "medium_term"
    LONG_TERM = "long_term"


class SearchType(StrEnum):
    """What a search looks for."""

    ALBUM = "album"
    ARTIST = "artist"
    TRACK = "track"


class TokenResponse(SpotifyModel):
    """The token endpoint's answer; `refresh_token` is present when Spotify rotates it."""

    access_token: str = Field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    scope: str = ""
    expires_in: int
    refresh_token: str | None = Field(default=None, repr=False)

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes as a set."""
        return frozenset(self.scope.split())


class Image(SpotifyModel):
    """A cover or profile image."""

    url: str
    height: int | None = None
    width: int | None = None


class ExternalUrls(SpotifyModel):
    """Links outside the API, e.g. to open.spotify.com."""

    spotify: str | None = None


class ExternalIds(SpotifyModel):
    """Industry identifiers."""

    isrc: str | None = None
    ean: str | None = None
    upc: str | None = None


class Followers(SpotifyModel):
    """A follower count (absent in Development Mode)."""

    total: int = 0


class PrivateUser(SpotifyModel):
    """The current user's profile (Development Mode drops email, country, product)."""

    id: str
    display_name: str | None = None
    email: str | None = Field(default=None, repr=False)
    country: str | None = None
    product: str | None = None
    uri: str | None = None
    href: str | None = None
    images: list[Image] = Field(default_factory=list)
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)


class SimplifiedArtist(SpotifyModel):
    """An artist as listed on a track or album."""

    id: str | None = None
    name: str
    uri: str | None = None
    href: str | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)


class Artist(SimplifiedArtist):
    """A full artist; genres may be empty, popularity and followers absent in Development Mode."""

    genres: list[str] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)
    popularity: int | None = None
    followers: Followers | None = None


class SimplifiedAlbum(SpotifyModel):
    """An album as listed on a track."""

    id: str | None = None
    name: str
    uri: str | None = None
    album_type: str | None = None
    total_tracks: int | None = None
    release_date: str | None = None
    release_date_precision: Literal["year", "month", "day"] | None = None
    images: list[Image] = Field(default_factory=list)
    artists: list[SimplifiedArtist] = Field(default_factory=list)
    available_markets: list[str] | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)


class SimplifiedTrack(SpotifyModel):
    """A track as listed in an album; local files have no ID."""

    id: str | None = None
    name: str
    uri: str | None = None
    duration_ms: int
    explicit: bool = False
    track_number: int | None = None
    disc_number: int | None = None
    is_local: bool = False
    artists: list[SimplifiedArtist] = Field(default_factory=list)
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)


class Track(SimplifiedTrack):
    """A full track, with its album and ISRC."""

    album: SimplifiedAlbum | None = None
    external_ids: ExternalIds = Field(default_factory=ExternalIds)
    popularity: int | None = None
    available_markets: list[str] | None = None
    preview_url: str | None = None

    @property
    def isrc(self) -> str | None:
        """The recording's ISRC, when Spotify knows it."""
        return self.external_ids.isrc


class Paging(SpotifyModel, Generic[ItemT]):
    """An offset-paged list."""

    href: str
    items: list[ItemT]
    limit: int
    next: str | None = None
    offset: int = 0
    previous: str | None = None
    total: int = 0


class Album(SimplifiedAlbum):
    """A full album with its first page of tracks."""

    tracks: Paging[SimplifiedTrack] | None = None
    genres: list[str] = Field(default_factory=list)
    label: str | None = None
    popularity: int | None = None
    external_ids: ExternalIds = Field(default_factory=ExternalIds)


class Context(SpotifyModel):
    """Where a play started: an album, artist, playlist or show."""

    type: str
    uri: str
    href: str | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)


class PlayHistoryItem(SpotifyModel):
    """One play from recently-played; `context` is None when Spotify sends null."""

    track: Track
    played_at: AwareDatetime
    context: Context | None = None

    @property
    def played_at_ms(self) -> int:
        """`played_at` in unix milliseconds, the unit of the after/before cursors."""
        return to_unix_ms(self.played_at)


class Cursors(SpotifyModel):
    """Recently-played cursors: unix milliseconds as strings."""

    after: str | None = None
    before: str | None = None

    @property
    def after_ms(self) -> int | None:
        """The `after` cursor as an integer."""
        return int(self.after) if self.after else None

    @property
    def before_ms(self) -> int | None:
        """The `before` cursor as an integer."""
        return int(self.before) if self.before else None


class RecentlyPlayedPage(SpotifyModel):
    """A page of recently-played items, newest first; cursors are null on an empty page."""

    items: list[PlayHistoryItem]
    next: str | None = None
    cursors: Cursors | None = None
    limit: int
    href: str | None = None


class SearchResult(SpotifyModel):
    """Search hits per type; a type that was not asked for is None."""

    tracks: Paging[Track] | None = None
    artists: Paging[Artist] | None = None
    albums: Paging[SimplifiedAlbum] | None = None


class AudioFeatures(SpotifyModel):
    """Audio features of a track."""

    id: str
    uri: str | None = None
    duration_ms: int | None = None
    acousticness: float | None = None
    danceability: float | None = None
    energy: float | None = None
    instrumentalness: float | None = None
    key: int | None = None
    liveness: float | None = None
    loudness: float | None = None
    mode: int | None = None
    speechiness: float | None = None
    tempo: float | None = None
    time_signature: int | None = None
    valence: float | None = None


class PlaylistOwner(SpotifyModel):
    """The owner (or adder) of a playlist."""

    id: str
    display_name: str | None = None
    uri: str | None = None


class PlaylistItem(SpotifyModel):
    """A playlist entry; Spotify moved the track from `track` to `item` in 2026."""

    added_at: AwareDatetime | None = None
    added_by: PlaylistOwner | None = None
    is_local: bool = False
    item: Track | None = None
    track: Track | None = None

    @property
    def content(self) -> Track | None:
        """The track, from whichever field Spotify filled."""
        return self.item or self.track


class Playlist(SpotifyModel):
    """A playlist."""

    id: str
    name: str
    uri: str
    description: str | None = None
    public: bool | None = None
    collaborative: bool = False
    snapshot_id: str | None = None
    owner: PlaylistOwner | None = None
    href: str | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)
    images: list[Image] | None = None


class SnapshotResponse(SpotifyModel):
    """The snapshot ID a playlist change produced."""

    snapshot_id: str


def to_unix_ms(moment: datetime) -> int:
    """A tz-aware datetime as unix milliseconds."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined instant; pass a tz-aware one")
    # Integer arithmetic: float timestamps turn .123 s into 122.99999 ms and lose a play.
    return (moment - _EPOCH) // timedelta(milliseconds=1)
