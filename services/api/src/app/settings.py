"""Settings of the API service."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.config import BaseServiceSettings


class AppSettings(BaseServiceSettings):
    """Everything the API reads from the environment."""

    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="How browsers and tool clients reach the API (links, OpenAPI servers).",
    )
    frontend_base_url: str = Field(
        default="http://127.0.0.1:8001", description="How browsers reach the admin UI."
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token for the admin API and admin-wide tool access."
    )
    admin_username: str = Field(default="admin", description="User name for Basic admin auth.")
    admin_password: SecretStr | None = Field(
        default=None, description="Password for Basic admin auth (the admin UI login)."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs OAuth state and session cookies."
    )
    demo_mode: bool = Field(
        default=False, description="Set by `make demo`: Spotify is the bundled fake."
    )
    oauth_state_ttl_seconds: int = Field(
        default=600, ge=60, le=3600, description="How long a login attempt may take."
    )

    def secrets_to_check(self) -> dict[str, SecretStr | None]:
        """The API also needs its admin and signing secrets."""
        return {
            **super().secrets_to_check(),
            "ADMIN_TOKEN": self.admin_token,
            "ADMIN_PASSWORD": self.admin_password,
            "SECRET_KEY": self.secret_key,
        }
