"""Settings read from the environment (and `.env`), one class per service built on these."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/spotify-mcp.db"

# Values that people paste from examples; refusing them outside dev mode keeps a
# production deployment from running with a secret that is printed in the docs.
_PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "change_me", "replace-me", "secret", "password", "admin", "xxx"}
)


class PlaceholderSecretError(ValueError):
    """A secret still holds an example value outside dev mode."""


class AppEnv(StrEnum):
    """Where the service runs: dev allows generated local secrets and placeholders."""

    DEV = "dev"
    PRODUCTION = "production"


def is_placeholder(secret: SecretStr | None) -> bool:
    """True when the secret is missing or still an example value."""
    if secret is None:
        return True
    value = secret.get_secret_value().strip()
    return value.lower() in _PLACEHOLDER_SECRETS or value.lower().startswith("change-me")


_ENV_FILES = (".env",)


class DatabaseSettings(BaseSettings):
    """How to reach the database."""

    model_config = SettingsConfigDict(env_file=_ENV_FILES, extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Connections a process keeps open (PostgreSQL; the API's SQLite ones too).",
    )
    database_max_overflow: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Extra PostgreSQL connections beyond the pool under load.",
    )
    database_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long SQLite waits for a lock before failing."
    )
    database_echo: bool = Field(default=False, description="Log every SQL statement.")


class SpotifySettings(BaseSettings):
    """The Spotify developer app and the client's retry policy."""

    model_config = SettingsConfigDict(env_file=_ENV_FILES, extra="ignore")

    spotify_client_id: str = Field(default="", description="Client ID of your Spotify app.")
    spotify_client_secret: SecretStr | None = Field(
        default=None, description="Client secret of your Spotify app."
    )
    spotify_redirect_uri: str = Field(
        default="http://127.0.0.1:8000/auth/callback",
        description="Redirect URI registered in the Spotify app (https, or http://127.0.0.1).",
    )
    spotify_accounts_url: str = Field(
        default="https://accounts.spotify.com", description="Spotify Accounts service base URL."
    )
    spotify_api_url: str = Field(
        default="https://api.spotify.com/v1", description="Spotify Web API base URL."
    )
    spotify_timeout_seconds: float = Field(default=15.0, gt=0, description="Per-request timeout.")
    spotify_max_retries: int = Field(
        default=4, ge=0, le=10, description="Retries on 5xx, timeouts and short 429s."
    )
    spotify_max_retry_after_seconds: int = Field(
        default=120,
        ge=0,
        description="A 429 asking to wait longer than this defers the user instead of sleeping.",
    )

    @property
    def configured(self) -> bool:
        """True when a client ID and secret are set."""
        return bool(self.spotify_client_id) and not is_placeholder(self.spotify_client_secret)


class CommonSettings(BaseSettings):
    """What every process reads: its environment and log level; refuses placeholder secrets."""

    model_config = SettingsConfigDict(env_file=_ENV_FILES, extra="ignore")

    app_env: AppEnv = Field(default=AppEnv.DEV, description="dev or production.")
    log_level: str = Field(default="INFO", description="Minimum level of log lines.")

    def secrets_to_check(self) -> dict[str, SecretStr | None]:
        """Secrets that must not be missing or placeholders outside dev mode."""
        return {}

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        if self.app_env is AppEnv.DEV:
            return self
        bad = [name for name, value in self.secrets_to_check().items() if is_placeholder(value)]
        if bad:
            raise PlaceholderSecretError(
                f"{', '.join(bad)} must be set to a real secret when APP_ENV={self.app_env.value}"
            )
        return self


class BaseServiceSettings(CommonSettings):
    """What the services that open the database need: database, Spotify, encryption keys."""

    log_to_database: bool = Field(
        default=True, description="Also write log lines to the logs table (admin log viewer)."
    )
    token_encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys; the first encrypts, all decrypt (rotation).",
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    spotify: SpotifySettings = Field(default_factory=SpotifySettings)

    def secrets_to_check(self) -> dict[str, SecretStr | None]:
        """The token encryption keys must be real outside dev mode."""
        return {"TOKEN_ENCRYPTION_KEYS": self.token_encryption_keys}
