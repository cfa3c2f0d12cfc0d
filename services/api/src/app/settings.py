"""Settings of the API service."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated

import limits
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from shared.config import BaseServiceSettings


class AppSettings(BaseServiceSettings):
    """Everything the API reads from the environment."""

    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API processes sharing the port (`spotify-mcp api`): Python answers on one "
        "core per process. Each keeps its own answer cache, rate-limit counters (unless "
        "RATE_LIMIT_STORAGE_URL shares them) and /metrics counters.",
    )
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
    import_dir: Path = Field(
        default=Path("./data/imports"),
        description="Where uploaded privacy-export ZIPs are stored (shared with the collector).",
    )
    import_max_zip_size_mb: int = Field(
        default=512, ge=1, le=100_000, description="Largest privacy-export ZIP accepted, in MB."
    )

    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default=["http://localhost:8001", "http://127.0.0.1:8001"],
        description="Comma-separated browser origins allowed to call the API (`*` is refused).",
    )
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default=[],
        description="Comma-separated IPs or CIDRs of proxies whose X-Forwarded-* is believed.",
    )
    rate_limit_storage_url: str = Field(
        default="",
        description="redis://host:port/db to share rate-limit counters between replicas; "
        "empty keeps them in memory.",
    )
    rate_limit_key_prefix: str = Field(
        default="spotify-mcp-rate-limit",
        min_length=1,
        description="Prefix of the rate-limit keys in Redis (one per deployment sharing a Redis).",
    )
    auth_rate_limit: str = Field(
        default="10/minute", description="Per client IP on /auth/login and /auth/callback."
    )
    credential_failure_rate_limit: str = Field(
        default="30/minute",
        description="Rejected credentials (401s) allowed per client IP before it must wait.",
    )
    tool_rate_limit: str = Field(default="60/minute", description="Per token on tool calls.")
    history_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="Seconds a history answer is reused for the same question while no play "
        "changes; 0 turns the cache off.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without credentials; when false scrapers send ADMIN_TOKEN.",
    )

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("cors_allowed_origins")
    @classmethod
    def _refuse_wildcard_origins(cls, origins: list[str]) -> list[str]:
        # Any origin could then read admin responses with a token the browser holds.
        if any("*" in origin for origin in origins):
            raise ValueError("CORS_ALLOWED_ORIGINS must list origins explicitly; `*` is refused")
        for origin in origins:
            if not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]:
                raise ValueError(
                    f"CORS_ALLOWED_ORIGINS: {origin!r} is not an origin such as https://host:port"
                )
        return origins

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        items = _split_commas(value)
        if not isinstance(items, list):
            return items
        try:
            return [ip_network(item, strict=False) for item in items]
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {exc}") from exc

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _check_storage_url(cls, url: str) -> str:
        url = url.strip()
        if url and not url.removeprefix("async+").startswith(
            ("redis://", "rediss://", "redis+unix://")
        ):
            raise ValueError("RATE_LIMIT_STORAGE_URL must be empty or a redis:// or rediss:// URL")
        return url

    @field_validator("auth_rate_limit", "tool_rate_limit", "credential_failure_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit such as 10/minute") from exc
        return value

    def secrets_to_check(self) -> dict[str, SecretStr | None]:
        """The API also needs its admin and signing secrets."""
        return {
            **super().secrets_to_check(),
            "ADMIN_TOKEN": self.admin_token,
            "ADMIN_PASSWORD": self.admin_password,
            "SECRET_KEY": self.secret_key,
        }


def _split_commas(value: object) -> object:
    """`a, b,` from the environment becomes ["a", "b"]; lists pass through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value
