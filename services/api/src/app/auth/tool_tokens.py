"""Tool tokens: stored only as SHA-256 hashes; admin-wide or scoped to one user."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import utc_now
from shared.db.enums import TokenScope
from shared.db.models import ApiToken, User

logger = logging.getLogger(__name__)

# Tokens announce what they are, so a leaked one is recognisable by secret scanners.
TOKEN_MARK = "smcp_"  # noqa: S105 - a public marker, not a secret
# The mark and a few random characters: enough to tell tokens apart in a list, far too few
# to guess the rest (256 random bits minus these ~42).
PREFIX_LENGTH = len(TOKEN_MARK) + 7
NAME_MAX_LENGTH = 255
LAST_USE_PRECISION = timedelta(minutes=1)
"""A token's last use is recorded to the minute: busy clients do not write on every call."""


class ToolTokenError(Exception):
    """A tool token request that cannot be carried out."""


class UnknownTokenUserError(ToolTokenError):
    """A user-scope token was asked for a user that does not exist."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"There is no user {user_id}.")
        self.user_id = user_id


class UnknownToolTokenError(ToolTokenError):
    """No tool token has this ID."""

    def __init__(self, token_id: int) -> None:
        super().__init__(f"There is no tool token {token_id}.")
        self.token_id = token_id


class InvalidTokenNameError(ToolTokenError, ValueError):
    """A token name is empty, too long, or holds control characters."""


@dataclass(frozen=True)
class IssuedToolToken:
    """A token just created: its stored row and the plaintext, which exists only here."""

    row: ApiToken
    # Left out of repr() so a logged or printed result never carries the secret.
    plaintext: str = field(repr=False)


@dataclass(frozen=True)
class ListedToolToken:
    """A stored token with the Spotify user ID of its user (None for admin-wide tokens)."""

    row: ApiToken
    spotify_user_id: str | None


class ToolTokenVerifier:
    """Finds the live token row for a presented bearer token and records its use."""

    @staticmethod
    def hash(token: str) -> str:
        """The stored form of a token: hex SHA-256 (tokens are random, so no salt is needed)."""
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    async def find(self, session: AsyncSession, token: str) -> ApiToken | None:
        """The unrevoked token row for this bearer token, else None; changes nothing."""
        if not token:
            return None
        row: ApiToken | None = await session.scalar(
            select(ApiToken).where(
                ApiToken.token_hash == self.hash(token), ApiToken.revoked_at.is_(None)
            )
        )
        return row

    async def verify(self, session: AsyncSession, token: str) -> ApiToken | None:
        """The unrevoked token row for this bearer token, with last use updated; else None."""
        row = await self.find(session, token)
        if row is not None:
            row.last_used_at = utc_now()
            await session.flush()
        return row

    @staticmethod
    def use_is_stale(row: ApiToken, now: datetime) -> bool:
        """Whether the recorded last use is old enough to be worth a write."""
        last = row.last_used_at
        return last is None or now - last >= LAST_USE_PRECISION

    @staticmethod
    async def record_use(session: AsyncSession, token_id: int, now: datetime) -> None:
        """Store `now` as the token's last use."""
        await session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
        )


class ToolTokenService:
    """Creates, lists and revokes tool tokens; only a token's hash is ever stored."""

    async def create_user_token(
        self, session: AsyncSession, user_id: int, name: str
    ) -> IssuedToolToken:
        """A new token that sees only this user's data; the plaintext is returned only here."""
        if await session.get(User, user_id) is None:
            raise UnknownTokenUserError(user_id)
        return await self._issue(session, name=name, scope=TokenScope.USER, user_id=user_id)

    async def create_admin_token(self, session: AsyncSession, name: str) -> IssuedToolToken:
        """A new token that sees every user, like ADMIN_TOKEN; the plaintext is returned once."""
        return await self._issue(session, name=name, scope=TokenScope.ADMIN, user_id=None)

    async def list_tokens(
        self, session: AsyncSession, *, user_id: int | None = None
    ) -> list[ListedToolToken]:
        """Every token, or only one user's, oldest first; revoked tokens included."""
        statement = (
            select(ApiToken, User.spotify_user_id)
            .outerjoin(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id)
        )
        if user_id is not None:
            statement = statement.where(ApiToken.user_id == user_id)
        rows = await session.execute(statement)
        return [ListedToolToken(row=token, spotify_user_id=owner) for token, owner in rows]

    async def revoke(self, session: AsyncSession, token_id: int) -> ApiToken:
        """Revoke a token for good; revoking a revoked token keeps its first revocation time."""
        row = await session.get(ApiToken, token_id)
        if row is None:
            raise UnknownToolTokenError(token_id)
        if row.revoked_at is None:
            row.revoked_at = utc_now()
            await session.flush()
            logger.info(
                "tool token revoked",
                extra={"token_id": row.id, "scope": row.scope.value, "user_id": row.user_id},
            )
        return row

    @staticmethod
    def clean_name(name: str) -> str:
        """The name as stored: trimmed, 1 to 255 printable characters, or InvalidTokenNameError."""
        cleaned = name.strip()
        if not cleaned:
            raise InvalidTokenNameError("A token needs a name.")
        if len(cleaned) > NAME_MAX_LENGTH:
            raise InvalidTokenNameError(f"A token name has at most {NAME_MAX_LENGTH} characters.")
        # Also refuses NUL (PostgreSQL text cannot hold it) and lone surrogates (not UTF-8).
        if not cleaned.isprintable():
            raise InvalidTokenNameError("A token name can only hold printable characters.")
        return cleaned

    async def _issue(
        self, session: AsyncSession, *, name: str, scope: TokenScope, user_id: int | None
    ) -> IssuedToolToken:
        plaintext = TOKEN_MARK + secrets.token_urlsafe(32)
        row = ApiToken(
            name=self.clean_name(name),
            token_hash=ToolTokenVerifier.hash(plaintext),
            token_prefix=plaintext[:PREFIX_LENGTH],
            scope=scope,
            user_id=user_id,
            created_at=utc_now(),
        )
        session.add(row)
        await session.flush()
        logger.info(
            "tool token created",
            extra={"token_id": row.id, "scope": scope.value, "user_id": user_id},
        )
        return IssuedToolToken(row=row, plaintext=plaintext)
