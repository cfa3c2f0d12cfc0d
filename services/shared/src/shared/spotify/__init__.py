"""Spotify: an async Web API and Accounts client, its response models and its errors."""

from shared.spotify.client import (
    SpotifyClient,
    SpotifyClientConfig,
    StaticTokenProvider,
    TokenProvider,
)
from shared.spotify.errors import (
    SpotifyAuthError,
    SpotifyBadRequestError,
    SpotifyDevelopmentModeError,
    SpotifyError,
    SpotifyForbiddenError,
    SpotifyInvalidClientError,
    SpotifyInvalidGrantError,
    SpotifyNotFoundError,
    SpotifyRateLimitDeferred,
    SpotifyResponseError,
    SpotifyUnauthorizedError,
    SpotifyUnavailableError,
)

__all__ = [
    "SpotifyAuthError",
    "SpotifyBadRequestError",
    "SpotifyClient",
    "SpotifyClientConfig",
    "SpotifyDevelopmentModeError",
    "SpotifyError",
    "SpotifyForbiddenError",
    "SpotifyInvalidClientError",
    "SpotifyInvalidGrantError",
    "SpotifyNotFoundError",
    "SpotifyRateLimitDeferred",
    "SpotifyResponseError",
    "SpotifyUnauthorizedError",
    "SpotifyUnavailableError",
    "StaticTokenProvider",
    "TokenProvider",
]
