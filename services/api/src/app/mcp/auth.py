"""`ToolCallerResolver`: who is calling a tool, from the bearer token, on every surface."""

from __future__ import annotations

from app.admin.auth import AdminAuthProvider
from app.auth.tool_tokens import ToolTokenVerifier
from app.errors import AuthenticationError
from app.mcp.registry import ToolCaller
from shared.db.base import utc_now
from shared.db.manager import SessionSource

TOOL_CHALLENGE = 'Bearer realm="spotify-mcp"'


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class ToolCallerResolver:
    """The admin token sees every user; a tool token sees its own user (or all, if admin-wide)."""

    def __init__(
        self, admin: AdminAuthProvider, verifier: ToolTokenVerifier, sessions: SessionSource
    ) -> None:
        self._admin = admin
        self._verifier = verifier
        self._sessions = sessions

    async def resolve(self, authorization: str | None) -> ToolCaller | None:
        """The caller for this Authorization header, or None when it grants nothing."""
        token = bearer_token(authorization)
        if token is None:
            return None
        if self._admin.authenticate(f"Bearer {token}") is not None:
            return ToolCaller(user_id=None)
        async with self._sessions.session() as session:
            row = await self._verifier.find(session, token)
            if row is None:
                return None
            caller = ToolCaller(user_id=row.user_id, token_id=row.id)
            now = utc_now()
            stale = self._verifier.use_is_stale(row, now)
        if stale:
            async with self._sessions.session(write=True) as session:
                await self._verifier.record_use(session, row.id, now)
        return caller

    async def require(self, authorization: str | None) -> ToolCaller:
        """The caller, or a 401 that tells the client to present a bearer token."""
        caller = await self.resolve(authorization)
        if caller is None:
            raise AuthenticationError(
                "A valid bearer token is required: the admin token or a tool token.",
                headers={"WWW-Authenticate": TOOL_CHALLENGE},
            )
        return caller
