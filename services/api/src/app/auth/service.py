"""`OAuthService`: connects a Spotify account and stores its tokens encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.state import InvalidStateError, OAuthStateStore
from app.settings import AppSettings
from shared.crypto import TokenEncryptor
from shared.db.base import utc_now
from shared.db.enums import UserStatus
from shared.db.models import SpotifyToken, SyncCheckpoint, User
from shared.spotify import SpotifyClient, StaticTokenProvider
from shared.spotify.constants import DEFAULT_SCOPES
from shared.spotify.models import PrivateUser, TokenResponse

SCOPES = DEFAULT_SCOPES


class SpotifyNotConfiguredError(Exception):
    """No Spotify client ID and secret are configured."""


class UnknownUserError(Exception):
    """No user has this ID."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"user {user_id} does not exist")
        self.user_id = user_id


@dataclass(frozen=True)
class LoginStart:
    """Where to send the browser, and the nonce to bind to it by cookie."""

    authorize_url: str
    nonce: str


@dataclass(frozen=True)
class ConnectedUser:
    """The outcome of a successful login."""

    user_id: int
    display_name: str
    was_new: bool
    was_reactivated: bool


class OAuthService:
    """Starts logins and completes them: state checks, code exchange, user and token upsert."""

    def __init__(
        self, settings: AppSettings, spotify: SpotifyClient, encryptor: TokenEncryptor
    ) -> None:
        self._settings = settings
        self._spotify = spotify
        self._encryptor = encryptor
        key = settings.secret_key.get_secret_value() if settings.secret_key else ""
        self._states = OAuthStateStore(
            key.encode(), timedelta(seconds=settings.oauth_state_ttl_seconds)
        )

    @property
    def state_ttl_seconds(self) -> int:
        """How long a login may take (also the binding cookie's lifetime)."""
        return self._settings.oauth_state_ttl_seconds

    async def start_login(self, session: AsyncSession) -> LoginStart:
        """Issue a state and build Spotify's authorize URL."""
        if not self._settings.spotify.configured:
            raise SpotifyNotConfiguredError
        state, nonce = await self._states.issue(session)
        return LoginStart(self._spotify.authorize_url(state=state, scopes=SCOPES), nonce)

    async def redeem_state(
        self, session: AsyncSession, *, state: str | None, cookie_nonce: str | None
    ) -> None:
        """Accept the callback's state once (raises `InvalidStateError`)."""
        if not self._settings.spotify.configured:
            raise SpotifyNotConfiguredError
        await self._states.redeem(session, state, cookie_nonce)

    async def fetch_account(self, code: str) -> tuple[TokenResponse, PrivateUser]:
        """Exchange the code and read the profile; talks to Spotify, never to the database."""
        tokens = await self._spotify.exchange_code(code)
        provider = StaticTokenProvider(self._spotify, tokens)
        profile = await self._spotify.get_current_user(provider)
        return provider.tokens, profile

    async def store_account(
        self, session: AsyncSession, tokens: TokenResponse, profile: PrivateUser
    ) -> ConnectedUser:
        """Upsert the user, its encrypted tokens and its sync checkpoint."""
        user = await session.scalar(select(User).where(User.spotify_user_id == profile.id))
        was_new = user is None
        was_reactivated = False
        if user is None:
            user = User(spotify_user_id=profile.id, status=UserStatus.ACTIVE)
            session.add(user)
        elif user.status is not UserStatus.ACTIVE:
            was_reactivated = True
            user.status = UserStatus.ACTIVE
            user.status_reason = None
        user.display_name = profile.display_name or profile.id
        user.country = profile.country
        user.product = profile.product
        await session.flush()

        now = utc_now()
        stored = await session.scalar(select(SpotifyToken).where(SpotifyToken.user_id == user.id))
        if stored is None:
            stored = SpotifyToken(user_id=user.id)
            session.add(stored)
        stored.access_token_encrypted = self._encryptor.encrypt(tokens.access_token)
        if tokens.refresh_token:
            stored.refresh_token_encrypted = self._encryptor.encrypt(tokens.refresh_token)
        stored.scope = tokens.scope or ""
        stored.token_type = tokens.token_type
        stored.expires_at = now + timedelta(seconds=tokens.expires_in)

        checkpoint = await session.get(SyncCheckpoint, user.id)
        if checkpoint is None:
            session.add(SyncCheckpoint(user_id=user.id, next_poll_at=now))
        else:
            checkpoint.next_poll_at = now
            checkpoint.last_error = None
        await session.flush()
        return ConnectedUser(user.id, user.display_name, was_new, was_reactivated)

    async def log_out(self, session: AsyncSession, user_id: int) -> User:
        """Forget the user's Spotify tokens and pause collection until they log in again."""
        user = await session.get(User, user_id)
        if user is None:
            raise UnknownUserError(user_id)
        await session.execute(delete(SpotifyToken).where(SpotifyToken.user_id == user_id))
        user.status = UserStatus.PAUSED
        user.status_reason = "Logged out: the Spotify tokens were deleted; log in again to resume."
        await session.flush()
        return user


__all__ = [
    "SCOPES",
    "ConnectedUser",
    "InvalidStateError",
    "LoginStart",
    "OAuthService",
    "SpotifyNotConfiguredError",
    "UnknownUserError",
]
