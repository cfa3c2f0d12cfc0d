"""Settings of the collector service."""

from __future__ import annotations

from pydantic import Field

from shared.config import BaseServiceSettings


class CollectorSettings(BaseServiceSettings):
    """Everything the collector reads from the environment."""

    collector_interval_seconds: int = Field(
        default=600, ge=10, description="How often each user's recently-played is polled."
    )
