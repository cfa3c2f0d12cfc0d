"""`AdminAuthProvider`: Bearer ADMIN_TOKEN or Basic ADMIN_USERNAME/ADMIN_PASSWORD."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request
from pydantic import SecretStr

from app.errors import AuthenticationError
from app.settings import AppSettings

_CHALLENGE = 'Bearer realm="spotify-mcp", Basic realm="spotify-mcp"'


@dataclass(frozen=True)
class AdminPrincipal:
    """Who passed the admin check, and how."""

    method: str  # "bearer" or "basic"


def _digest(value: str) -> bytes:
    # Comparing fixed-length digests keeps the secret's length out of the timing too.
    return hashlib.sha256(value.encode()).digest()


def _same(given: str, expected: SecretStr | None) -> bool:
    """Constant-time comparison; a missing or empty secret never matches."""
    secret = expected.get_secret_value() if expected is not None else ""
    matches = hmac.compare_digest(_digest(given), _digest(secret))
    return matches and bool(secret)


class AdminAuthProvider:
    """The admin check, usable as a FastAPI dependency; never silently off.

    With no admin secret configured every request is refused (outside dev mode the
    settings refuse to load without one).
    """

    def __init__(self, settings: AppSettings) -> None:
        self._token = settings.admin_token
        self._username = settings.admin_username
        self._password = settings.admin_password

    async def __call__(self, request: Request) -> AdminPrincipal:
        """Authenticate the request's Authorization header, or raise 401."""
        principal = self.authenticate(request.headers.get("authorization"))
        if principal is None:
            raise AuthenticationError(
                "Admin credentials are missing or wrong.", headers={"WWW-Authenticate": _CHALLENGE}
            )
        return principal

    def authenticate(self, header: str | None) -> AdminPrincipal | None:
        """The principal for an Authorization header value, or None."""
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return AdminPrincipal("bearer") if _same(value, self._token) else None
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            username, separator, password = decoded.partition(":")
            if not separator:
                return None
            # Both comparisons always run, so timing does not reveal which part was wrong.
            user_ok = hmac.compare_digest(_digest(username), _digest(self._username))
            password_ok = _same(password, self._password)
            return AdminPrincipal("basic") if user_ok and password_ok else None
        return None
