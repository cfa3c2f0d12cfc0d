"""Settings of the admin frontend."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config import AppEnv


class FrontendSettings(BaseSettings):
    """Everything the frontend reads from the environment; it never opens the database."""

    model_config = SettingsConfigDict(env_file=(".env",), extra="ignore")

    app_env: AppEnv = Field(default=AppEnv.DEV, description="dev or production.")
    log_level: str = Field(default="INFO", description="Minimum level of log lines.")
    frontend_host: str = Field(default="127.0.0.1", description="Address the UI listens on.")
    frontend_port: int = Field(default=8001, ge=1, le=65535, description="Port the UI listens on.")
    api_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Where the frontend reaches the API."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="How browsers reach the API (for the Spotify login link).",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Token the frontend uses for the admin API."
    )
