"""Settings shared by every service."""

from shared.config.settings import (
    DEFAULT_DATABASE_URL,
    AppEnv,
    BaseServiceSettings,
    CommonSettings,
    DatabaseSettings,
    PlaceholderSecretError,
    SpotifySettings,
)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "AppEnv",
    "BaseServiceSettings",
    "CommonSettings",
    "DatabaseSettings",
    "PlaceholderSecretError",
    "SpotifySettings",
]
