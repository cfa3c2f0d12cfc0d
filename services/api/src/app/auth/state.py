"""OAuth `state`: signed, expiring, single-use, and bound to the browser that started the login."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import delete, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import utc_now
from shared.db.models import OAuthState


class InvalidStateError(Exception):
    """The callback's state is forged, expired, replayed or from another browser."""


class OAuthStateStore:
    """Issues and redeems login states; the nonce is stored so each is accepted once."""

    def __init__(self, signing_key: bytes, ttl: timedelta) -> None:
        if not signing_key:
            raise ValueError(
                "SECRET_KEY is not set: it signs login states (spotify-mcp serve generates one "
                "into data/secrets.env for local runs)"
            )
        self._key = signing_key
        self._ttl = ttl

    def _sign(self, nonce: str) -> str:
        mac = hmac.new(self._key, nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    async def issue(self, session: AsyncSession) -> tuple[str, str]:
        """A new (state for Spotify, nonce for the browser cookie)."""
        nonce = secrets.token_urlsafe(24)
        now = utc_now()
        # Logins are rare; clearing expired states here keeps the table from growing.
        await session.execute(delete(OAuthState).where(OAuthState.expires_at < now))
        session.add(OAuthState(nonce=nonce, expires_at=now + self._ttl))
        await session.flush()
        return f"{nonce}.{self._sign(nonce)}", nonce

    async def redeem(
        self, session: AsyncSession, state: str | None, cookie_nonce: str | None
    ) -> None:
        """Accept the state once, or raise `InvalidStateError` saying why."""
        if not state or "." not in state:
            raise InvalidStateError("The login link is missing its state. Start again.")
        nonce, _, signature = state.partition(".")
        if not hmac.compare_digest(signature, self._sign(nonce)):
            raise InvalidStateError("The login state is not valid. Start again.")
        if not cookie_nonce or not hmac.compare_digest(nonce, cookie_nonce):
            raise InvalidStateError(
                "This login was started in another browser or its cookie expired. Start again."
            )
        now = utc_now()
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(OAuthState)
                .where(
                    OAuthState.nonce == nonce,
                    OAuthState.used_at.is_(None),
                    OAuthState.expires_at > now,
                )
                .values(used_at=now)
            ),
        )
        if result.rowcount != 1:
            raise InvalidStateError("This login link has expired or was already used. Start again.")
