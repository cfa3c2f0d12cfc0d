"""Re-encrypt every stored Spotify token under the current first key, so old keys can go."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.crypto import TokenEncryptor
from shared.db.models import SpotifyToken


class StoredTokenRotator:
    """Moves stored access and refresh tokens to the primary encryption key."""

    def __init__(self, encryptor: TokenEncryptor) -> None:
        self._encryptor = encryptor

    async def rotate_all(self, session: AsyncSession) -> int:
        """Re-encrypt the rows still under an older key; returns how many changed."""
        changed = 0
        for token in await session.scalars(select(SpotifyToken)):
            stale = [
                self._encryptor.needs_rotation(token.access_token_encrypted),
                self._encryptor.needs_rotation(token.refresh_token_encrypted),
            ]
            if any(stale):
                token.access_token_encrypted = self._encryptor.rotate(token.access_token_encrypted)
                token.refresh_token_encrypted = self._encryptor.rotate(
                    token.refresh_token_encrypted
                )
                changed += 1
        await session.flush()
        return changed
