"""The Web API under /v1: the endpoints the service uses, with Spotify's rules and errors."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from fake_spotify.catalogue import Catalogue, is_base62_id
from fake_spotify.errors import WebApiError
from fake_spotify.history import Play
from fake_spotify.render import JsonObject, SpotifyObjects, unix_ms
from fake_spotify.state import AccessGrant, FakeSpotifyState, FakeUser

SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
SEARCH_FILTERS = ("album", "artist", "track", "year", "upc", "isrc", "genre")
# Development Mode caps search pages at 10; apps with extended quota keep the old 50.
DEVELOPMENT_MODE_SEARCH_LIMIT = 10
EXTENDED_SEARCH_LIMIT = 50
MAX_PLAYLIST_ITEMS_PER_REQUEST = 100
MAX_BATCH_IDS = 50
MAX_AUDIO_FEATURES_IDS = 100
TIME_RANGES: dict[str, timedelta | None] = {
    "short_term": timedelta(weeks=4),
    "medium_term": timedelta(days=182),
    "long_term": None,
}
_DEV_MODE_REMOVED = "This endpoint is not available to apps in Development Mode"
_INSUFFICIENT_SCOPE = "Insufficient client scope"


@dataclass(frozen=True, slots=True)
class Caller:
    """The user and app behind a request's access token, and how to render objects for them."""

    grant: AccessGrant
    user: FakeUser
    objects: SpotifyObjects

    def require_scope(self, *any_of: str) -> None:
        """403 unless the token carries at least one of the scopes."""
        if not any(scope in self.grant.scopes for scope in any_of):
            raise WebApiError(403, _INSUFFICIENT_SCOPE)


class WebApiRouter:
    """Routes of api.spotify.com/v1 that the service and its tests rely on."""

    def __init__(self, state: FakeSpotifyState) -> None:
        self.state = state
        self.router = APIRouter(prefix="/v1", tags=["web-api"])
        get, post = ["GET"], ["POST"]
        routes: list[tuple[str, Any, list[str], int]] = [
            ("/me", self.current_user, get, 200),
            ("/me/player/recently-played", self.recently_played, get, 200),
            ("/me/top/{item_type}", self.top_items, get, 200),
            ("/tracks/{track_id}", self.track, get, 200),
            ("/tracks", self.several_tracks, get, 200),
            ("/artists/{artist_id}", self.artist, get, 200),
            ("/artists", self.several_artists, get, 200),
            ("/albums/{album_id}", self.album, get, 200),
            ("/search", self.search, get, 200),
            ("/audio-features/{track_id}", self.audio_features, get, 200),
            ("/audio-features", self.several_audio_features, get, 200),
            ("/me/playlists", self.create_playlist, post, 201),
            ("/users/{user_id}/playlists", self.create_playlist_for_user, post, 201),
            ("/playlists/{playlist_id}/items", self.add_playlist_items, post, 201),
            ("/playlists/{playlist_id}/items", self.playlist_items, get, 200),
        ]
        for path, endpoint, methods, status in routes:
            self.router.add_api_route(
                path, endpoint, methods=methods, status_code=status, response_model=None
            )

    def caller(self, request: Request) -> Caller:
        """Authenticate the bearer token and bind an object renderer to this request's host."""
        grant = self.state.authenticate_bearer(request.headers.get("authorization"))
        base = str(request.base_url).rstrip("/")
        objects = SpotifyObjects(
            self.state.catalogue,
            api_url=f"{base}/v1",
            images_url=f"{base}/image",
            development_mode=self.state.switches.development_mode,
        )
        return Caller(grant, self.state.user(grant.user_id), objects)

    # -- users ---------------------------------------------------------------------------

    def current_user(self, request: Request) -> JsonObject:
        """Get the current user's profile."""
        caller = self.caller(request)
        return caller.objects.private_user(caller.user, caller.grant.scopes)

    def recently_played(
        self,
        request: Request,
        limit: Annotated[int, Query()] = 20,
        after: Annotated[int | None, Query()] = None,
        before: Annotated[int | None, Query()] = None,
    ) -> JsonObject:
        """Get the user's recently played tracks: only the newest few plays are remembered."""
        caller = self.caller(request)
        caller.require_scope("user-read-recently-played")
        _check_limit(limit, 50)
        if after is not None and before is not None:
            raise WebApiError(400, "Only one of 'after' and 'before' can be specified")
        plays = self.state.visible_plays(caller.user.id)
        page, more = _cursor_page(plays, limit=limit, after=after, before=before)
        api = caller.objects.api_url
        path = f"{api}/me/player/recently-played"
        query = request.url.query
        cursors = None
        next_url = None
        if page:
            cursors = {
                "after": str(unix_ms(page[-1].played_at)),
                "before": str(unix_ms(page[0].played_at)),
            }
            if more and after is not None:
                next_url = f"{path}?after={cursors['after']}&limit={limit}"
            elif more:
                next_url = f"{path}?before={cursors['before']}&limit={limit}"
        return {
            "items": [caller.objects.play_history_item(play) for play in reversed(page)],
            "next": next_url,
            "cursors": cursors,
            "limit": limit,
            "href": f"{path}?{query}" if query else path,
        }

    def top_items(
        self,
        request: Request,
        item_type: str,
        time_range: Annotated[str, Query()] = "medium_term",
        limit: Annotated[int, Query()] = 20,
        offset: Annotated[int, Query()] = 0,
    ) -> JsonObject:
        """Get the user's top artists or tracks, computed from their listening history."""
        caller = self.caller(request)
        if item_type not in {"artists", "tracks"}:
            raise WebApiError(404, "Service not found")
        caller.require_scope("user-top-read")
        if time_range not in TIME_RANGES:
            raise WebApiError(400, "Invalid time range")
        _check_limit(limit, 50)
        _check_offset(offset)
        span = TIME_RANGES[time_range]
        since = None if span is None else self.state.now() - span
        with self.state.lock:
            plays = [p for p in caller.user.plays if since is None or p.played_at >= since]
        ranked = _rank_top(plays, item_type, self.state.catalogue)
        objects = caller.objects
        render = objects.artist if item_type == "artists" else objects.track
        return objects.paging(
            f"/me/top/{item_type}",
            [render(item_id) for item_id in ranked[offset : offset + limit]],
            limit=limit,
            offset=offset,
            total=len(ranked),
            query={"time_range": time_range},
        )

    # -- catalogue -----------------------------------------------------------------------

    def track(self, request: Request, track_id: str) -> JsonObject:
        """Get one track."""
        caller = self.caller(request)
        _check_id(track_id, self.state.catalogue.tracks)
        return caller.objects.track(track_id)

    def several_tracks(self, request: Request, ids: Annotated[str, Query()] = "") -> JsonObject:
        """Get several tracks: removed for Development-Mode apps without extended quota."""
        caller = self.caller(request)
        self._require_extended_quota()
        wanted = _id_list(ids, MAX_BATCH_IDS)
        tracks = self.state.catalogue.tracks
        return {"tracks": [caller.objects.track(i) if i in tracks else None for i in wanted]}

    def artist(self, request: Request, artist_id: str) -> JsonObject:
        """Get one artist."""
        caller = self.caller(request)
        _check_id(artist_id, self.state.catalogue.artists)
        return caller.objects.artist(artist_id)

    def several_artists(self, request: Request, ids: Annotated[str, Query()] = "") -> JsonObject:
        """Get several artists: removed for Development-Mode apps without extended quota."""
        caller = self.caller(request)
        self._require_extended_quota()
        wanted = _id_list(ids, MAX_BATCH_IDS)
        artists = self.state.catalogue.artists
        return {"artists": [caller.objects.artist(i) if i in artists else None for i in wanted]}

    def album(self, request: Request, album_id: str) -> JsonObject:
        """Get one album with its tracks."""
        caller = self.caller(request)
        _check_id(album_id, self.state.catalogue.albums)
        return caller.objects.album(album_id)

    def search(
        self,
        request: Request,
        q: Annotated[str, Query()] = "",
        item_types: Annotated[str, Query(alias="type")] = "",
        limit: Annotated[int, Query()] = 5,
        offset: Annotated[int, Query()] = 0,
    ) -> JsonObject:
        """Search the catalogue for albums, artists and tracks."""
        caller = self.caller(request)
        if not q.strip():
            raise WebApiError(400, "No search query")
        if not item_types:
            raise WebApiError(400, "Missing parameter type")
        types = [t.strip() for t in item_types.split(",")]
        if any(t not in SEARCH_TYPES for t in types):
            raise WebApiError(400, "Bad search type field")
        max_limit = (
            DEVELOPMENT_MODE_SEARCH_LIMIT
            if self.state.switches.development_mode
            else EXTENDED_SEARCH_LIMIT
        )
        _check_limit(limit, max_limit)
        if not 0 <= offset <= 1000:
            raise WebApiError(400, "Invalid offset")
        terms, filters = _parse_query(q)
        catalogue = self.state.catalogue
        objects = caller.objects
        query = {"query": q, "type": item_types}
        found: dict[str, tuple[list[str], Any]] = {
            "track": ([t.id for t in catalogue.search_tracks(terms, filters)], objects.track),
            "artist": ([a.id for a in catalogue.search_artists(terms, filters)], objects.artist),
            "album": (
                [a.id for a in catalogue.search_albums(terms, filters)],
                objects.simplified_album,
            ),
        }
        body: JsonObject = {}
        for search_type in types:
            ids, render = found.get(search_type, ([], None))
            body[f"{search_type}s"] = objects.paging(
                "/search",
                [render(i) for i in ids[offset : offset + limit]] if render else [],
                limit=limit,
                offset=offset,
                total=len(ids),
                query=query,
            )
        return body

    def audio_features(self, request: Request, track_id: str) -> JsonObject:
        """Get one track's audio features: 403 for new apps unless enabled."""
        caller = self.caller(request)
        self._require_audio_features()
        _check_id(track_id, self.state.catalogue.tracks)
        return caller.objects.audio_features(track_id)

    def several_audio_features(
        self, request: Request, ids: Annotated[str, Query()] = ""
    ) -> JsonObject:
        """Get several tracks' audio features: 403 for new apps unless enabled."""
        caller = self.caller(request)
        self._require_audio_features()
        wanted = _id_list(ids, MAX_AUDIO_FEATURES_IDS)
        tracks = self.state.catalogue.tracks
        return {
            "audio_features": [
                caller.objects.audio_features(i) if i in tracks else None for i in wanted
            ]
        }

    # -- playlists -----------------------------------------------------------------------

    def create_playlist(
        self, request: Request, body: Annotated[dict[str, Any] | None, Body()] = None
    ) -> JSONResponse:
        """Create a playlist for the current user."""
        caller = self.caller(request)
        return self._create_playlist(caller, body or {})

    def create_playlist_for_user(
        self,
        request: Request,
        user_id: str,
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> JSONResponse:
        """Create a playlist for a user: the pre-2026 endpoint, gone for Development Mode."""
        caller = self.caller(request)
        self._require_extended_quota()
        if user_id != caller.user.id:
            raise WebApiError(403, "You cannot create a playlist for another user")
        return self._create_playlist(caller, body or {})

    def _create_playlist(self, caller: Caller, body: dict[str, Any]) -> JSONResponse:
        caller.require_scope("playlist-modify-public", "playlist-modify-private")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise WebApiError(400, "Missing required field: name")
        description = body.get("description")
        playlist = self.state.create_playlist(
            caller.user.id,
            name,
            description=description if isinstance(description, str) else None,
            public=bool(body.get("public", True)),
            collaborative=bool(body.get("collaborative", False)),
        )
        return JSONResponse(caller.objects.playlist(playlist, caller.user), status_code=201)

    def add_playlist_items(
        self,
        request: Request,
        playlist_id: str,
        uris: Annotated[str | None, Query()] = None,
        position: Annotated[int | None, Query()] = None,
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> JSONResponse:
        """Add up to 100 items to a playlist; returns the new snapshot ID."""
        caller = self.caller(request)
        caller.require_scope("playlist-modify-public", "playlist-modify-private")
        playlist = self.state.playlists.get(playlist_id)
        if playlist is None:
            raise WebApiError(404, "Resource not found")
        if playlist.owner_id != caller.user.id and not playlist.collaborative:
            raise WebApiError(403, "You cannot add tracks to a playlist you don't own.")
        payload = body or {}
        # As documented: URIs in the query string win over those in the body.
        if uris is not None:
            wanted: Sequence[Any] = [u.strip() for u in uris.split(",") if u.strip()]
        else:
            wanted = payload.get("uris") or []
            if position is None and isinstance(payload.get("position"), int):
                position = payload["position"]
        if not isinstance(wanted, list | tuple) or not wanted:
            raise WebApiError(400, "No uris provided")
        if len(wanted) > MAX_PLAYLIST_ITEMS_PER_REQUEST:
            raise WebApiError(400, "You can add a maximum of 100 tracks per request.")
        track_ids = [self._track_id_from_uri(uri) for uri in wanted]
        if position is not None and not 0 <= position <= len(playlist.entries):
            raise WebApiError(400, "Index out of bounds")
        snapshot = self.state.add_playlist_items(playlist_id, track_ids, caller.user.id, position)
        return JSONResponse({"snapshot_id": snapshot}, status_code=201)

    def playlist_items(
        self,
        request: Request,
        playlist_id: str,
        limit: Annotated[int, Query()] = 20,
        offset: Annotated[int, Query()] = 0,
    ) -> JsonObject:
        """Get a page of a playlist's items (owner or collaborators only)."""
        caller = self.caller(request)
        playlist = self.state.playlists.get(playlist_id)
        if playlist is None:
            raise WebApiError(404, "Resource not found")
        if playlist.owner_id != caller.user.id and not playlist.collaborative:
            raise WebApiError(403, "Forbidden")
        _check_limit(limit, 50)
        _check_offset(offset)
        return caller.objects.playlist_items_page(playlist, limit=limit, offset=offset)

    # -- Development Mode ----------------------------------------------------------------

    def _require_extended_quota(self) -> None:
        switches = self.state.switches
        if switches.development_mode and not switches.extended_quota:
            raise WebApiError(403, _DEV_MODE_REMOVED)

    def _require_audio_features(self) -> None:
        # Spotify answers 403 to every app created since late 2024, extended quota or not.
        if not self.state.switches.audio_features_enabled:
            raise WebApiError(403, _DEV_MODE_REMOVED)

    def _track_id_from_uri(self, uri: object) -> str:
        if not isinstance(uri, str):
            raise WebApiError(400, "Invalid track uri")
        kind, _, track_id = uri.removeprefix("spotify:").partition(":")
        if not uri.startswith("spotify:") or kind != "track" or not is_base62_id(track_id):
            raise WebApiError(400, f"Invalid track uri: {uri}")
        if track_id not in self.state.catalogue.tracks:
            raise WebApiError(400, "Payload contains a non-existing ID")
        return track_id


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise WebApiError(400, "Invalid limit")


def _check_offset(offset: int) -> None:
    if offset < 0:
        raise WebApiError(400, "Invalid offset")


def _check_id(item_id: str, known: dict[str, Any]) -> None:
    if not is_base62_id(item_id):
        raise WebApiError(400, "Invalid base62 id")
    if item_id not in known:
        raise WebApiError(404, "Resource not found")


def _id_list(ids: str, maximum: int) -> list[str]:
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    if not wanted:
        raise WebApiError(400, "Missing parameter ids")
    if len(wanted) > maximum:
        raise WebApiError(400, "Too many ids requested")
    for item_id in wanted:
        if not is_base62_id(item_id):
            raise WebApiError(400, "Invalid base62 id")
    return wanted


def _cursor_page(
    plays: list[Play], *, limit: int, after: int | None, before: int | None
) -> tuple[list[Play], bool]:
    """The page of plays (oldest first) a cursor selects, and whether more lie beyond it."""
    if after is not None:
        # Paging forward from `after`: the oldest plays past the cursor come first.
        newer = [p for p in plays if unix_ms(p.played_at) > after]
        return newer[:limit], len(newer) > limit
    older = plays if before is None else [p for p in plays if unix_ms(p.played_at) < before]
    return older[-limit:], len(older) > limit


def _rank_top(plays: list[Play], item_type: str, catalogue: Catalogue) -> list[str]:
    """Track or artist IDs by how often they were played, most played first."""
    counts: Counter[str] = Counter()
    for play in plays:
        if item_type == "tracks":
            counts[play.track_id] += 1
        else:
            counts.update(catalogue.tracks[play.track_id].artist_ids)
    # Ties broken by ID so pages never reorder between requests.
    return [item for item, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _parse_query(q: str) -> tuple[list[str], dict[str, str]]:
    """Split a search query into plain terms and field filters such as artist:"Name"."""
    try:
        words = shlex.split(q)
    except ValueError:
        # An unbalanced quote (an apostrophe in a title) is just a character to Spotify.
        words = q.split()
    terms: list[str] = []
    filters: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition(":")
        if sep and name.lower() in SEARCH_FILTERS and value:
            filters[name.lower()] = value.lower()
        else:
            terms.append(word.lower())
    return terms, filters
