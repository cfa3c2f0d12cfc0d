"""Web API objects rendered from the catalogue and state, in Spotify's JSON shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fake_spotify.catalogue import Catalogue
from fake_spotify.history import Play, PlayContext
from fake_spotify.state import FakePlaylist, FakeUser, PlaylistEntry

JsonObject = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OPEN_SPOTIFY_URL = "https://open.spotify.com"
# Markets are only listed for apps with extended quota; Development Mode drops the field.
_MARKETS = ("DE", "FR", "GB", "JP", "NL", "NO", "SE", "US")
# Size prefixes of real Spotify image IDs, largest first.
_ALBUM_IMAGE_SIZES = (
    ("ab67616d0000b273", 640),
    ("ab67616d00001e02", 300),
    ("ab67616d00004851", 64),
)
_ARTIST_IMAGE_SIZES = (
    ("ab6761610000e5eb", 640),
    ("ab67616100005174", 320),
    ("ab6761610000f178", 160),
)


def format_timestamp(moment: datetime) -> str:
    """Spotify's timestamp format: UTC with milliseconds, e.g. 2026-11-27T03:22:41.123Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def unix_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, the unit of recently-played cursors."""
    # Integer arithmetic: float timestamps can turn .123 s into 122.99999 ms.
    return (moment - _EPOCH) // timedelta(milliseconds=1)


class SpotifyObjects:
    """Renders catalogue entries, plays, users and playlists as one app sees them."""

    def __init__(
        self, catalogue: Catalogue, *, api_url: str, images_url: str, development_mode: bool
    ) -> None:
        self.catalogue = catalogue
        self.api_url = api_url.rstrip("/")
        self.images_url = images_url.rstrip("/")
        self.development_mode = development_mode

    # -- catalogue -----------------------------------------------------------------------

    def simplified_artist(self, artist_id: str) -> JsonObject:
        """A SimplifiedArtistObject."""
        artist = self.catalogue.artists[artist_id]
        return {
            "external_urls": {"spotify": f"{OPEN_SPOTIFY_URL}/artist/{artist.id}"},
            "href": f"{self.api_url}/artists/{artist.id}",
            "id": artist.id,
            "name": artist.name,
            "type": "artist",
            "uri": artist.uri,
        }

    def artist(self, artist_id: str) -> JsonObject:
        """An ArtistObject; Development Mode drops followers and popularity."""
        artist = self.catalogue.artists[artist_id]
        body = self.simplified_artist(artist_id)
        body["genres"] = list(artist.genres)
        body["images"] = self._images(artist.image_key, _ARTIST_IMAGE_SIZES)
        if not self.development_mode:
            body["followers"] = {"href": None, "total": artist.followers}
            body["popularity"] = artist.popularity
        return body

    def simplified_album(self, album_id: str) -> JsonObject:
        """A SimplifiedAlbumObject."""
        album = self.catalogue.albums[album_id]
        body: JsonObject = {
            "album_type": album.album_type,
            "total_tracks": len(album.track_ids),
            "external_urls": {"spotify": f"{OPEN_SPOTIFY_URL}/album/{album.id}"},
            "href": f"{self.api_url}/albums/{album.id}",
            "id": album.id,
            "images": self._images(album.image_key, _ALBUM_IMAGE_SIZES),
            "name": album.name,
            "release_date": album.release_date,
            "release_date_precision": "day",
            "type": "album",
            "uri": album.uri,
            "artists": [self.simplified_artist(a) for a in album.artist_ids],
        }
        if not self.development_mode:
            body["available_markets"] = list(_MARKETS)
        return body

    def album(self, album_id: str) -> JsonObject:
        """An AlbumObject with the first 50 of its tracks."""
        album = self.catalogue.albums[album_id]
        body = self.simplified_album(album_id)
        year = album.release_date[:4]
        body["tracks"] = self.paging(
            f"/albums/{album.id}/tracks",
            [self.simplified_track(t) for t in album.track_ids[:50]],
            limit=50,
            offset=0,
            total=len(album.track_ids),
        )
        body["copyrights"] = [
            {"text": f"© {year} {album.label}", "type": "C"},
            {"text": f"℗ {year} {album.label}", "type": "P"},
        ]
        body["external_ids"] = {"upc": album.upc}
        body["genres"] = []
        if not self.development_mode:
            body["label"] = album.label
            body["popularity"] = album.popularity
        return body

    def simplified_track(self, track_id: str) -> JsonObject:
        """A SimplifiedTrackObject, as listed inside an album."""
        track = self.catalogue.tracks[track_id]
        body: JsonObject = {
            "artists": [self.simplified_artist(a) for a in track.artist_ids],
            "disc_number": track.disc_number,
            "duration_ms": track.duration_ms,
            "explicit": track.explicit,
            "external_urls": {"spotify": f"{OPEN_SPOTIFY_URL}/track/{track.id}"},
            "href": f"{self.api_url}/tracks/{track.id}",
            "id": track.id,
            "is_local": False,
            "name": track.name,
            "track_number": track.track_number,
            "type": "track",
            "uri": track.uri,
        }
        if not self.development_mode:
            body["available_markets"] = list(_MARKETS)
            body["preview_url"] = None
        return body

    def track(self, track_id: str) -> JsonObject:
        """A TrackObject; Development Mode drops popularity and available_markets."""
        track = self.catalogue.tracks[track_id]
        body = self.simplified_track(track_id)
        body["album"] = self.simplified_album(track.album_id)
        body["external_ids"] = {"isrc": track.isrc}
        if not self.development_mode:
            body["popularity"] = track.popularity
        return body

    def audio_features(self, track_id: str) -> JsonObject:
        """An AudioFeaturesObject."""
        features = self.catalogue.audio_features(track_id)
        return {
            "acousticness": features.acousticness,
            "analysis_url": f"{self.api_url}/audio-analysis/{track_id}",
            "danceability": features.danceability,
            "duration_ms": features.duration_ms,
            "energy": features.energy,
            "id": track_id,
            "instrumentalness": features.instrumentalness,
            "key": features.key,
            "liveness": features.liveness,
            "loudness": features.loudness,
            "mode": features.mode,
            "speechiness": features.speechiness,
            "tempo": features.tempo,
            "time_signature": features.time_signature,
            "track_href": f"{self.api_url}/tracks/{track_id}",
            "type": "audio_features",
            "uri": f"spotify:track:{track_id}",
            "valence": features.valence,
        }

    # -- users and history ---------------------------------------------------------------

    def private_user(self, user: FakeUser, scopes: Sequence[str]) -> JsonObject:
        """A PrivateUserObject; Development Mode drops email, country, product and followers."""
        body: JsonObject = {
            "display_name": user.profile.display_name,
            "external_urls": {"spotify": f"{OPEN_SPOTIFY_URL}/user/{user.id}"},
            "href": f"{self.api_url}/users/{user.id}",
            "id": user.id,
            "images": [],
            "type": "user",
            "uri": f"spotify:user:{user.id}",
        }
        if not self.development_mode:
            body["followers"] = {"href": None, "total": 0}
            if "user-read-email" in scopes:
                body["email"] = user.profile.email
            if "user-read-private" in scopes:
                body["country"] = user.profile.country
                body["product"] = user.profile.product
                body["explicit_content"] = {"filter_enabled": False, "filter_locked": False}
        return body

    def user_reference(self, user_id: str, display_name: str | None = None) -> JsonObject:
        """A PlaylistUserObject (with display_name when it is an owner)."""
        body: JsonObject = {
            "external_urls": {"spotify": f"{OPEN_SPOTIFY_URL}/user/{user_id}"},
            "href": f"{self.api_url}/users/{user_id}",
            "id": user_id,
            "type": "user",
            "uri": f"spotify:user:{user_id}",
        }
        if display_name is not None:
            body["display_name"] = display_name
        return body

    def context(self, context: PlayContext | None) -> JsonObject | None:
        """A ContextObject, or None: Spotify sends `null` when a play had no context."""
        if context is None:
            return None
        return {
            "type": context.type,
            "href": f"{self.api_url}/{context.type}s/{context.id}",
            "external_urls": {"spotify": f"{OPEN_SPOTIFY_URL}/{context.type}/{context.id}"},
            "uri": context.uri,
        }

    def play_history_item(self, play: Play) -> JsonObject:
        """A PlayHistoryObject."""
        return {
            "track": self.track(play.track_id),
            "played_at": format_timestamp(play.played_at),
            "context": self.context(play.context),
        }

    # -- playlists -----------------------------------------------------------------------

    def playlist(self, playlist: FakePlaylist, owner: FakeUser) -> JsonObject:
        """A PlaylistObject with its first page of items."""
        return {
            "collaborative": playlist.collaborative,
            "description": playlist.description,
            "external_urls": {"spotify": f"{OPEN_SPOTIFY_URL}/playlist/{playlist.id}"},
            "followers": {"href": None, "total": 0},
            "href": f"{self.api_url}/playlists/{playlist.id}",
            "id": playlist.id,
            "images": [],
            "name": playlist.name,
            "owner": self.user_reference(owner.id, owner.profile.display_name),
            "public": playlist.public,
            "snapshot_id": playlist.snapshot_id,
            "items": self.playlist_items_page(playlist, limit=100, offset=0),
            "type": "playlist",
            "uri": f"spotify:playlist:{playlist.id}",
        }

    def playlist_item(self, entry: PlaylistEntry) -> JsonObject:
        """A PlaylistTrackObject (the 2026 shape: the track is under `item`)."""
        return {
            # Playlist timestamps come at second precision, unlike played_at.
            "added_at": entry.added_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "added_by": self.user_reference(entry.added_by),
            "is_local": False,
            "item": self.track(entry.track_id),
        }

    def playlist_items_page(self, playlist: FakePlaylist, *, limit: int, offset: int) -> JsonObject:
        """One page of a playlist's items."""
        entries = playlist.entries[offset : offset + limit]
        return self.paging(
            f"/playlists/{playlist.id}/items",
            [self.playlist_item(entry) for entry in entries],
            limit=limit,
            offset=offset,
            total=len(playlist.entries),
        )

    # -- paging and images ---------------------------------------------------------------

    def paging(
        self,
        path: str,
        items: list[JsonObject],
        *,
        limit: int,
        offset: int,
        total: int,
        query: Mapping[str, str] | None = None,
    ) -> JsonObject:
        """A PagingObject with href, next and previous links like Spotify's."""
        extra = dict(query or {})

        def link(at: int) -> str:
            return f"{self.api_url}{path}?{urlencode({**extra, 'offset': at, 'limit': limit})}"

        return {
            "href": link(offset),
            "items": items,
            "limit": limit,
            "next": link(offset + limit) if offset + limit < total else None,
            "offset": offset,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
            "total": total,
        }

    def _images(self, key: str, sizes: Sequence[tuple[str, int]]) -> list[JsonObject]:
        return [
            {"url": f"{self.images_url}/{prefix}{key}", "height": size, "width": size}
            for prefix, size in sizes
        ]
