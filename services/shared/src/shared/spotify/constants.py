"""Spotify's URLs, limits and the endpoints Development-Mode apps may not use."""

from __future__ import annotations

from typing import Final

DEFAULT_ACCOUNTS_URL: Final = "https://accounts.spotify.com"
DEFAULT_API_URL: Final = "https://api.spotify.com/v1"
AUTHORIZE_PATH: Final = "/authorize"
TOKEN_PATH: Final = "/api/token"  # noqa: S105 - a URL path, not a secret

# What the service asks a user to grant: history, top items, profile, and playlist writing.
# Reading back a playlist the user owns needs no playlist-read-* scope, so none is asked for.
DEFAULT_SCOPES: Final[tuple[str, ...]] = (
    "user-read-recently-played",
    "user-top-read",
    "user-read-private",
    "user-read-email",
    "playlist-modify-public",
    "playlist-modify-private",
)

RECENTLY_PLAYED_MAX_LIMIT: Final = 50
TOP_ITEMS_MAX_LIMIT: Final = 50
PLAYLIST_ITEMS_PAGE_MAX_LIMIT: Final = 50
# Spotify refuses more than 100 URIs per add request; longer lists go in ordered chunks.
PLAYLIST_ADD_MAX_ITEMS: Final = 100
AUDIO_FEATURES_MAX_IDS: Final = 100
SEARCH_MAX_LIMIT_DEVELOPMENT_MODE: Final = 10

# Endpoints Spotify removed or restricted for Development-Mode apps (2026), as
# (method, path template). A 403 from one of these means "not for your app", not "not for
# this user"; the decision never reads the error message (Spotify's wording changes).
DEVELOPMENT_MODE_RESTRICTED_ENDPOINTS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("GET", "/tracks"),
        ("GET", "/artists"),
        ("GET", "/albums"),
        ("GET", "/artists/{id}/top-tracks"),
        ("GET", "/artists/{id}/related-artists"),
        ("GET", "/audio-features"),
        ("GET", "/audio-features/{id}"),
        ("GET", "/audio-analysis/{id}"),
        ("GET", "/recommendations"),
        ("GET", "/recommendations/available-genre-seeds"),
        ("GET", "/users/{user_id}"),
        ("GET", "/users/{user_id}/playlists"),
        ("POST", "/users/{user_id}/playlists"),
        ("GET", "/playlists/{playlist_id}/tracks"),
        ("POST", "/playlists/{playlist_id}/tracks"),
        ("GET", "/browse/new-releases"),
        ("GET", "/browse/featured-playlists"),
        ("GET", "/markets"),
    }
)
