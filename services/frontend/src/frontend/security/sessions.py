"""The admin's session: a signed cookie holding a CSRF token and encrypted API credentials."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

from frontend.api_client import AdminCredentials

SESSION_COOKIE = "admin_session"
MAX_FLASHES = 5
MAX_FLASH_LENGTH = 300
# Anonymous sessions exist only to carry the login form's CSRF token.
ANONYMOUS_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class Flash:
    """A one-time notice shown on the next page: level is "ok" or "error"."""

    level: str
    text: str


@dataclass
class AdminSession:
    """One browser's session; `changed` tells the middleware to send the cookie again."""

    sid: str
    csrf_token: str
    username: str | None = None
    sealed_credentials: str | None = None
    authenticated_at: int | None = None
    flashes: list[Flash] = field(default_factory=list)
    changed: bool = False

    @classmethod
    def anonymous(cls) -> AdminSession:
        """A new session without a login, for the login form's CSRF token."""
        return cls(
            sid=secrets.token_urlsafe(16), csrf_token=secrets.token_urlsafe(32), changed=True
        )

    @property
    def authenticated(self) -> bool:
        """True after a successful login."""
        return self.sealed_credentials is not None

    def flash(self, level: str, text: str) -> None:
        """Queue a notice for the next page."""
        self.flashes = [*self.flashes, Flash(level, text[:MAX_FLASH_LENGTH])][-MAX_FLASHES:]
        self.changed = True

    def pop_flashes(self) -> list[Flash]:
        """The queued notices, removed from the session."""
        flashes, self.flashes = self.flashes, []
        if flashes:
            self.changed = True
        return flashes

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able form stored in the cookie."""
        payload: dict[str, Any] = {"sid": self.sid, "csrf": self.csrf_token}
        if self.sealed_credentials is not None:
            payload.update(
                user=self.username, cred=self.sealed_credentials, at=self.authenticated_at
            )
        if self.flashes:
            payload["flash"] = [[flash.level, flash.text] for flash in self.flashes]
        return payload

    @classmethod
    def from_payload(cls, payload: Any) -> AdminSession | None:
        """The session of a verified cookie payload, or None when its shape is wrong."""
        if not isinstance(payload, dict):
            return None
        sid, csrf = payload.get("sid"), payload.get("csrf")
        if not isinstance(sid, str) or not isinstance(csrf, str):
            return None
        session = cls(sid=sid, csrf_token=csrf)
        cred, user, at = payload.get("cred"), payload.get("user"), payload.get("at")
        if isinstance(cred, str) and isinstance(user, str) and isinstance(at, int):
            session.sealed_credentials, session.username, session.authenticated_at = cred, user, at
        flashes = payload.get("flash")
        if isinstance(flashes, list):
            session.flashes = [
                Flash(str(item[0]), str(item[1])[:MAX_FLASH_LENGTH])
                for item in flashes[:MAX_FLASHES]
                if isinstance(item, list) and len(item) == 2
            ]
        return session


class SessionCodec:
    """Signs sessions into cookie values and seals credentials with a key derived apart.

    The credentials inside the cookie are encrypted (Fernet) with a key derived from
    SECRET_KEY, so neither the browser nor anyone reading its cookies sees them in clear;
    the whole cookie is signed, so it cannot be altered or forged.
    """

    def __init__(self, secret_key: SecretStr, *, max_age_seconds: int) -> None:
        secret = secret_key.get_secret_value().encode()
        self.max_age_seconds = max_age_seconds
        self._serializer = URLSafeTimedSerializer(
            self._derive(secret, b"admin-ui session cookie signature").hex(),
            salt="spotify-mcp.frontend.session",
        )
        self._fernet = Fernet(
            base64.urlsafe_b64encode(
                self._derive(secret, b"admin-ui session credential encryption")
            )
        )

    @staticmethod
    def _derive(secret: bytes, purpose: bytes) -> bytes:
        """A 32-byte key for one purpose: one SECRET_KEY, unrelated keys per use."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)

    def encode(self, session: AdminSession) -> str:
        """The signed cookie value of a session."""
        return self._serializer.dumps(session.to_payload())

    def decode(self, cookie: str, *, now: float | None = None) -> AdminSession | None:
        """The session in a cookie value, or None if it is forged, altered or expired."""
        try:
            payload = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is one
            return None
        session = AdminSession.from_payload(payload)
        if session is None:
            return None
        moment = time.time() if now is None else now
        if session.authenticated_at is not None and (
            moment - session.authenticated_at > self.max_age_seconds
        ):
            return None  # a login lasts max_age in all, however often the cookie is renewed
        return session

    def seal(self, credentials: AdminCredentials) -> str:
        """The credentials encrypted for the cookie."""
        secret = credentials.password.get_secret_value()
        return self._fernet.encrypt(f"{credentials.username}\n{secret}".encode()).decode()

    def unseal(self, sealed: str) -> AdminCredentials | None:
        """The credentials in a sealed value, or None when it cannot be decrypted."""
        try:
            plain = self._fernet.decrypt(sealed.encode(), ttl=self.max_age_seconds).decode()
        except (InvalidToken, UnicodeDecodeError):
            return None
        username, separator, password = plain.partition("\n")
        if not separator:
            return None
        return AdminCredentials(username, SecretStr(password))

    def logged_in(self, credentials: AdminCredentials, *, now: float | None = None) -> AdminSession:
        """A fresh session (new id, new CSRF token) for an admin who just logged in."""
        session = AdminSession.anonymous()
        session.username = credentials.username
        session.sealed_credentials = self.seal(credentials)
        session.authenticated_at = int(time.time() if now is None else now)
        return session


class SessionRevocations:
    """Sessions ended by a logout, refused until they would have expired anyway.

    Kept in this process's memory: a restart forgets them, which the cookie's own expiry
    (FRONTEND_SESSION_MAX_AGE_SECONDS) bounds.
    """

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def revoke(self, sid: str, *, until: float) -> None:
        """Refuse the session `sid` until the time `until`."""
        now = time.time()
        self._until = {key: end for key, end in self._until.items() if end > now}
        self._until[sid] = until

    def is_revoked(self, sid: str) -> bool:
        """True for a session ended by a logout."""
        end = self._until.get(sid)
        return end is not None and end > time.time()
