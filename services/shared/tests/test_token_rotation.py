"""Rotating stored tokens to a new key, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.crypto import TokenDecryptionError, TokenEncryptor
from shared.db.models import SpotifyToken
from shared.token_rotation import StoredTokenRotator
from testkit.factories import create_user


class TestStoredTokenRotator:
    async def test_moves_every_token_to_the_new_key(self, db_session: AsyncSession) -> None:
        old_key, new_key = TokenEncryptor.generate_key(), TokenEncryptor.generate_key()
        before = TokenEncryptor([old_key])
        user = await create_user(db_session)
        token = SpotifyToken(
            user_id=user.id,
            access_token_encrypted=before.encrypt("access-1"),
            refresh_token_encrypted=before.encrypt("refresh-1"),
            expires_at=datetime.now(UTC),
        )
        db_session.add(token)
        await db_session.flush()

        after = TokenEncryptor([new_key, old_key])
        assert await StoredTokenRotator(after).rotate_all(db_session) >= 1
        assert await StoredTokenRotator(after).rotate_all(db_session) == 0

        only_new = TokenEncryptor([new_key])
        assert only_new.decrypt(token.access_token_encrypted) == "access-1"
        assert only_new.decrypt(token.refresh_token_encrypted) == "refresh-1"
        with pytest.raises(TokenDecryptionError):
            before.decrypt(token.access_token_encrypted)
