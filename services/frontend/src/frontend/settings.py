"""Settings of the admin frontend."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.config import CommonSettings


class FrontendSettings(CommonSettings):
    """Everything the frontend reads from the environment; it never opens the database.

    It holds no admin credential of its own: every API call is made with the credentials
    the admin typed at the login, kept encrypted in their session cookie.
    """

    frontend_host: str = Field(default="127.0.0.1", description="Address the UI listens on.")
    frontend_port: int = Field(default=8001, ge=1, le=65535, description="Port the UI listens on.")
    frontend_base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="How browsers reach the admin UI; https:// makes the session cookie Secure.",
    )
    api_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Where the frontend reaches the API."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the session cookie and encrypts the credentials inside it.",
    )
    frontend_session_max_age_seconds: int = Field(
        default=8 * 3600,
        ge=300,
        le=30 * 86400,
        description="How long an admin stays logged in to the UI.",
    )

    @property
    def https(self) -> bool:
        """True when browsers reach the UI over https (the cookie is then Secure)."""
        return self.frontend_base_url.lower().startswith("https://")

    def secrets_to_check(self) -> dict[str, SecretStr | None]:
        """The frontend needs the signing key for its sessions."""
        return {"SECRET_KEY": self.secret_key}
