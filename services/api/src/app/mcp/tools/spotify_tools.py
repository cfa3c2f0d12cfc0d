"""`SpotifyToolHandlers`: live Spotify data for a user, and playlists made from their history."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select

from app.history.schemas import PlayFilter
from app.history.service import MAX_LIST_LENGTH, HistoryService
from app.mcp.registry import (
    READ_ONLY_SPOTIFY,
    MCPToolRegistry,
    ToolAnnotations,
    ToolContext,
    ToolError,
)
from app.mcp.tools.args import UserArgs, WindowArgs
from shared.crypto import TokenEncryptor
from shared.db.enums import UserStatus
from shared.db.manager import SessionSource
from shared.db.models import SpotifyToken, User
from shared.spotify import (
    SpotifyClient,
    SpotifyDevelopmentModeError,
    SpotifyError,
    SpotifyForbiddenError,
    SpotifyNotFoundError,
    SpotifyRateLimitDeferred,
    SpotifyUnavailableError,
)
from shared.spotify.models import SearchType, TimeRange
from shared.spotify.stored_tokens import (
    MissingTokensError,
    StoredTokenManager,
    UserNeedsReauthorisationError,
)

logger = logging.getLogger(__name__)

MAX_TOP_ITEMS = 50
MAX_SEARCH_RESULTS = 10
"""Development-Mode apps get at most 10 search results per type."""
MAX_PLAYLIST_TRACK_IDS = 1_000

SpotifyId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{22}$")]

CREATES_PLAYLIST = ToolAnnotations(
    read_only=False, destructive=False, idempotent=False, open_world=True
)
"""Adds a new playlist to the user's Spotify account; calling twice makes two."""


class TopItemsArgs(UserArgs):
    """Arguments of spotify.get_top."""

    kind: Literal["artists", "tracks"] = Field(default="artists", description="What to rank.")
    time_range: TimeRange = Field(
        default=TimeRange.MEDIUM_TERM,
        description="short_term (about 4 weeks), medium_term (about 6 months) or long_term "
        "(about a year), as Spotify computes them.",
    )
    limit: int = Field(default=10, ge=1, le=MAX_TOP_ITEMS, description="How many (1-50).")


class SpotifyItem(BaseModel):
    """A track, artist or album as Spotify describes it."""

    id: str | None
    name: str
    uri: str | None
    artists: list[str] = Field(default_factory=list, description="For tracks and albums.")
    album: str | None = None
    genres: list[str] = Field(
        default_factory=list, description="For artists, when Spotify has them."
    )
    url: str | None = None


class TopItems(BaseModel):
    """The user's top artists or tracks according to Spotify."""

    user_id: int
    kind: str
    time_range: TimeRange
    items: list[SpotifyItem]


class SearchArgs(UserArgs):
    """Arguments of spotify.search."""

    query: str = Field(min_length=1, max_length=200, description="What to look for.")
    type: SearchType = Field(default=SearchType.TRACK, description="track, artist or album.")
    limit: int = Field(
        default=5, ge=1, le=MAX_SEARCH_RESULTS, description="How many results (1-10)."
    )


class SearchResults(BaseModel):
    """Catalogue search results."""

    query: str
    type: SearchType
    items: list[SpotifyItem]


class CreatePlaylistArgs(WindowArgs):
    """Arguments of spotify.create_playlist."""

    name: str = Field(min_length=1, max_length=100, description="The playlist's name.")
    description: str | None = Field(
        default=None, max_length=300, description="The playlist's description."
    )
    public: bool = Field(default=False, description="Whether the playlist is public.")
    track_ids: list[SpotifyId] | None = Field(
        default=None,
        max_length=MAX_PLAYLIST_TRACK_IDS,
        description="Spotify track IDs, in playlist order (up to 1,000). Without them, the "
        "playlist is filled with the user's most played tracks of the window.",
    )
    limit: int = Field(
        default=50,
        ge=1,
        le=MAX_LIST_LENGTH,
        description="Without track_ids: how many of the window's top tracks (1-100).",
    )


class PlaylistCreated(BaseModel):
    """The playlist made, and what went into it."""

    user_id: int
    playlist_id: str
    name: str
    uri: str
    url: str | None
    tracks_added: int
    skipped_without_spotify_id: int = Field(
        description="History items known only from an export, with no Spotify ID to add."
    )


class SpotifyToolHandlers:
    """The spotify.* tools: each call uses the user's own stored Spotify login."""

    def __init__(
        self,
        sessions: SessionSource,
        client: SpotifyClient,
        encryptor: TokenEncryptor,
        history: HistoryService,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._encryptor = encryptor
        self._history = history

    def register(self, registry: MCPToolRegistry) -> None:
        """Add the Spotify tools to the registry."""
        registry.add(
            name="spotify.get_top",
            title="Spotify top items",
            description="The user's top artists or tracks as Spotify itself ranks them over a "
            "short, medium or long term (live from Spotify, not from the stored history).",
            args=TopItemsArgs,
            output=TopItems,
            handler=self.get_top,
            annotations=READ_ONLY_SPOTIFY,
        )
        registry.add(
            name="spotify.search",
            title="Search Spotify",
            description="Search Spotify's catalogue for tracks, artists or albums (at most 10 "
            "results: Spotify's limit for apps in Development Mode).",
            args=SearchArgs,
            output=SearchResults,
            handler=self.search,
            annotations=READ_ONLY_SPOTIFY,
        )
        registry.add(
            name="spotify.create_playlist",
            title="Create a playlist",
            description="Create a new playlist in the user's Spotify account from track IDs, or "
            "from their most played tracks of a window (e.g. last summer). Tracks are added in "
            "order, 100 per request, so long playlists are complete. Each call makes a new "
            "playlist.",
            args=CreatePlaylistArgs,
            output=PlaylistCreated,
            handler=self.create_playlist,
            annotations=CREATES_PLAYLIST,
        )

    async def get_top(self, args: TopItemsArgs, ctx: ToolContext) -> TopItems:
        """spotify.get_top."""
        user_id = ctx.caller.resolve_user(args.user_id)
        async with self._spotify(ctx, user_id) as tokens:
            if args.kind == "artists":
                artists = await self._client.get_top_artists(
                    tokens, time_range=args.time_range, limit=args.limit
                )
                items = [
                    SpotifyItem(
                        id=a.id,
                        name=a.name,
                        uri=a.uri,
                        genres=a.genres[:5],
                        url=a.external_urls.spotify,
                    )
                    for a in artists.items
                ]
            else:
                tracks = await self._client.get_top_tracks(
                    tokens, time_range=args.time_range, limit=args.limit
                )
                items = [
                    SpotifyItem(
                        id=t.id,
                        name=t.name,
                        uri=t.uri,
                        artists=[a.name for a in t.artists][:5],
                        album=t.album.name if t.album else None,
                        url=t.external_urls.spotify,
                    )
                    for t in tracks.items
                ]
        return TopItems(user_id=user_id, kind=args.kind, time_range=args.time_range, items=items)

    async def search(self, args: SearchArgs, ctx: ToolContext) -> SearchResults:
        """spotify.search."""
        user_id = ctx.caller.resolve_user(args.user_id)
        async with self._spotify(ctx, user_id) as tokens:
            result = await self._client.search(
                tokens, args.query, types=[args.type], limit=args.limit
            )
        items: list[SpotifyItem] = []
        if args.type == SearchType.TRACK and result.tracks is not None:
            items = [
                SpotifyItem(
                    id=t.id,
                    name=t.name,
                    uri=t.uri,
                    artists=[a.name for a in t.artists][:5],
                    album=t.album.name if t.album else None,
                    url=t.external_urls.spotify,
                )
                for t in result.tracks.items
            ]
        elif args.type == SearchType.ARTIST and result.artists is not None:
            items = [
                SpotifyItem(
                    id=a.id,
                    name=a.name,
                    uri=a.uri,
                    genres=a.genres[:5],
                    url=a.external_urls.spotify,
                )
                for a in result.artists.items
            ]
        elif args.type == SearchType.ALBUM and result.albums is not None:
            items = [
                SpotifyItem(
                    id=a.id,
                    name=a.name,
                    uri=a.uri,
                    artists=[artist.name for artist in a.artists][:5],
                    url=a.external_urls.spotify,
                )
                for a in result.albums.items
            ]
        return SearchResults(query=args.query, type=args.type, items=items[: args.limit])

    async def create_playlist(self, args: CreatePlaylistArgs, ctx: ToolContext) -> PlaylistCreated:
        """spotify.create_playlist."""
        user_id = ctx.caller.resolve_user(args.user_id)
        uris, skipped = await self._playlist_uris(args, ctx, user_id)
        if not uris:
            raise ToolError(
                "nothing_to_add",
                "No track with a Spotify ID to add: the window has no plays of Spotify tracks.",
                422,
            )
        async with self._spotify(ctx, user_id) as tokens:
            playlist = await self._client.create_playlist(
                tokens, args.name, description=args.description, public=args.public
            )
            await self._client.add_playlist_items(tokens, playlist.id, uris)
        logger.info("playlist created", extra={"tracks": len(uris)})
        return PlaylistCreated(
            user_id=user_id,
            playlist_id=playlist.id,
            name=playlist.name,
            uri=playlist.uri,
            url=playlist.external_urls.spotify,
            tracks_added=len(uris),
            skipped_without_spotify_id=skipped,
        )

    async def _playlist_uris(
        self, args: CreatePlaylistArgs, ctx: ToolContext, user_id: int
    ) -> tuple[list[str], int]:
        if args.track_ids is not None:
            return [f"spotify:track:{track_id}" for track_id in args.track_ids], 0
        filters: PlayFilter = args.play_filter()
        top = await self._history.top_tracks(ctx.session, user_id, filters, limit=args.limit)
        uris = []
        skipped = 0
        for track in top.tracks:
            if track.track_id.startswith("local:"):
                skipped += 1
            elif track.kind == "episode":
                uris.append(f"spotify:episode:{track.track_id}")
            elif track.kind == "track":
                uris.append(f"spotify:track:{track.track_id}")
            else:
                skipped += 1  # audiobooks cannot be added to playlists
        return uris, skipped

    @asynccontextmanager
    async def _spotify(self, ctx: ToolContext, user_id: int) -> AsyncIterator[StoredTokenManager]:
        """The user's token provider; Spotify failures become tool errors that say what to do."""
        user = await ctx.session.get(User, user_id)
        if user is None:
            raise ToolError("not_found", f"There is no user {user_id}.", 404)
        if user.status == UserStatus.REAUTH_REQUIRED:
            raise _reauth_error()
        stored = await ctx.session.scalar(
            select(SpotifyToken.id).where(SpotifyToken.user_id == user_id)
        )
        if stored is None:
            raise _no_login_error()
        tokens = StoredTokenManager(self._sessions, self._client, self._encryptor, user_id)
        try:
            yield tokens
        except UserNeedsReauthorisationError:
            raise _reauth_error() from None
        except MissingTokensError:
            raise _no_login_error() from None
        except SpotifyRateLimitDeferred as exc:
            raise ToolError(
                "spotify_rate_limited",
                f"Spotify asked to wait {round(exc.retry_after_seconds)} s; try again later.",
                503,
            ) from None
        except SpotifyDevelopmentModeError:
            raise ToolError(
                "spotify_forbidden",
                "Spotify refused: the app is in Development Mode and this user may not be one "
                "of its (at most 5) registered users, or the endpoint is closed to such apps.",
                403,
            ) from None
        except SpotifyForbiddenError:
            raise ToolError(
                "spotify_forbidden", "Spotify refused this request for this user.", 403
            ) from None
        except SpotifyNotFoundError:
            raise ToolError("spotify_not_found", "Spotify does not know that item.", 404) from None
        except SpotifyUnavailableError as exc:
            message = "Spotify is not answering; try again later."
            if exc.outcome_unknown:
                message = (
                    "Spotify did not confirm the change; check the user's Spotify account "
                    "before trying again."
                )
            raise ToolError("spotify_unavailable", message, 502) from None
        except SpotifyError:
            raise ToolError("spotify_error", "Spotify refused the request.", 502) from None


def _reauth_error() -> ToolError:
    return ToolError(
        "reauth_required",
        "Spotify no longer accepts this user's login; they must log in again at /auth/login.",
        409,
    )


def _no_login_error() -> ToolError:
    return ToolError(
        "no_spotify_login",
        "This user has no Spotify login stored (an import-only user); live Spotify tools need "
        "them to log in at /auth/login.",
        409,
    )
