"""Tool tokens: stored only as SHA-256 hashes; admin-wide or scoped to one user."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import utc_now
from shared.db.models import ApiToken


class ToolTokenVerifier:
    """Finds the live token row for a presented bearer token and records its use."""

    @staticmethod
    def hash(token: str) -> str:
        """The stored form of a token: hex SHA-256 (tokens are random, so no salt is needed)."""
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    async def verify(self, session: AsyncSession, token: str) -> ApiToken | None:
        """The unrevoked token row for this bearer token, with last use updated; else None."""
        if not token:
            return None
        row = await session.scalar(
            select(ApiToken).where(
                ApiToken.token_hash == self.hash(token), ApiToken.revoked_at.is_(None)
            )
        )
        if row is not None:
            row.last_used_at = utc_now()
            await session.flush()
        return row
