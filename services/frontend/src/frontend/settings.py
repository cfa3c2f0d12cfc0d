"""Settings of the admin frontend."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.config import CommonSettings


class FrontendSettings(CommonSettings):
    """Everything the frontend reads from the environment; it never opens the database."""

    frontend_host: str = Field(default="127.0.0.1", description="Address the UI listens on.")
    frontend_port: int = Field(default=8001, ge=1, le=65535, description="Port the UI listens on.")
    api_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Where the frontend reaches the API."
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Token the frontend uses for the admin API."
    )

    def secrets_to_check(self) -> dict[str, SecretStr | None]:
        """The frontend needs the admin token to reach the admin API."""
        return {"ADMIN_TOKEN": self.admin_token}
