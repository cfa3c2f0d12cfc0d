"""`StoredTokenManager`: one user's Spotify tokens, kept (encrypted) in the spotify_tokens row."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update

from shared.crypto import TokenEncryptor
from shared.db.base import utc_now
from shared.db.enums import UserStatus
from shared.db.manager import SessionSource
from shared.db.models import SpotifyToken, User
from shared.spotify.client import SpotifyClient
from shared.spotify.errors import SpotifyInvalidGrantError

logger = logging.getLogger(__name__)

# Refresh this long before the stored expiry, so a request never leaves with a dying token.
REFRESH_MARGIN = timedelta(seconds=60)


class UserNeedsReauthorisationError(Exception):
    """The user's refresh token is dead: no further Spotify call is made for them."""

    def __init__(self, user_id: int, reason: str) -> None:
        super().__init__(f"user {user_id} must authorise again: {reason}")
        self.user_id = user_id
        self.reason = reason


class MissingTokensError(Exception):
    """The user has no stored Spotify tokens."""


class StoredTokenManager:
    """A `TokenProvider` backed by the user's `spotify_tokens` row.

    Shared by the collector and the API's Spotify tools. Unlike the services, it commits its
    own short transactions: a rotated refresh token is the only one Spotify will still
    accept, so it must be stored even when the work that triggered the refresh rolls back.
    """

    def __init__(
        self,
        database: SessionSource,
        client: SpotifyClient,
        encryptor: TokenEncryptor,
        user_id: int,
        *,
        clock: Callable[[], datetime] = utc_now,
        refresh_margin: timedelta = REFRESH_MARGIN,
    ) -> None:
        self._database = database
        self._client = client
        self._encryptor = encryptor
        self.user_id = user_id
        self._clock = clock
        self._margin = refresh_margin
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._expires_at: datetime | None = None
        self._dead: UserNeedsReauthorisationError | None = None

    async def access_token(self) -> str:
        """The stored access token, refreshed first when it expires within the margin."""
        self._raise_if_dead()
        if self._access is None:
            await self._load()
        assert self._access is not None
        if self._expires_at is not None and self._clock() >= self._expires_at - self._margin:
            return await self.refresh()
        return self._access

    async def refresh(self) -> str:
        """Refresh now and store the result; a dead refresh token marks the user reauth_required."""
        async with self._lock:
            self._raise_if_dead()
            if self._refresh_token is None:
                await self._load()
            current = self._refresh_token
            assert current is not None
            try:
                fresh = await self._client.refresh_access_token(current)
            except SpotifyInvalidGrantError as exc:
                await self._mark_reauth_required(exc)
                raise self._dead_error() from exc
            refresh_token = fresh.refresh_token or current
            expires_at = self._clock() + timedelta(seconds=fresh.expires_in)
            async with self._database.session(write=True) as session:
                values: dict[str, object] = {
                    "access_token_encrypted": self._encryptor.encrypt(fresh.access_token),
                    "expires_at": expires_at,
                }
                if refresh_token != current:
                    values["refresh_token_encrypted"] = self._encryptor.encrypt(refresh_token)
                await session.execute(
                    update(SpotifyToken).where(SpotifyToken.user_id == self.user_id).values(values)
                )
            if refresh_token != current:
                logger.info("Spotify rotated the refresh token; stored the new one")
            self._access = fresh.access_token
            self._refresh_token = refresh_token
            self._expires_at = expires_at
            return fresh.access_token

    async def _load(self) -> None:
        async with self._database.session() as session:
            row = await session.scalar(
                select(SpotifyToken).where(SpotifyToken.user_id == self.user_id)
            )
        if row is None:
            raise MissingTokensError(f"user {self.user_id} has no stored Spotify tokens")
        self._access = self._encryptor.decrypt(row.access_token_encrypted)
        self._refresh_token = self._encryptor.decrypt(row.refresh_token_encrypted)
        self._expires_at = row.expires_at

    async def _mark_reauth_required(self, exc: SpotifyInvalidGrantError) -> None:
        reason = (
            "Spotify refused the stored refresh token (invalid_grant: revoked, or older than "
            "Spotify allows); the user must log in with Spotify again."
        )
        self._dead = UserNeedsReauthorisationError(self.user_id, reason)
        async with self._database.session(write=True) as session:
            await session.execute(
                update(User)
                .where(User.id == self.user_id)
                .values(status=UserStatus.REAUTH_REQUIRED, status_reason=reason)
            )
        logger.warning(
            "user must authorise again; polling stopped",
            extra={"spotify_status": exc.status_code},
        )

    def _dead_error(self) -> UserNeedsReauthorisationError:
        assert self._dead is not None
        return self._dead

    def _raise_if_dead(self) -> None:
        if self._dead is not None:
            raise self._dead
