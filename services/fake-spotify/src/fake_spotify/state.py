"""Everything the fake remembers: apps, users, grants, plays, playlists and behaviour switches."""

from __future__ import annotations

import base64
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from fake_spotify.catalogue import BASE62_ALPHABET, Catalogue, build_catalogue
from fake_spotify.errors import TokenEndpointError, WebApiError
from fake_spotify.history import (
    ListeningHistoryGenerator,
    Play,
    PlayContext,
    truncate_to_millisecond,
)
from fake_spotify.persistence import (
    SavedAccessGrant,
    SavedContext,
    SavedPlay,
    SavedPlaylist,
    SavedPlaylistEntry,
    SavedRefreshGrant,
    SavedState,
    read_state_file,
    write_state_file,
)
from fake_spotify.scopes import ALL_SCOPES

DEFAULT_SEED = 42
# Spotify lets a Development-Mode app's owner add at most five users to its allowlist.
MAX_ALLOWLISTED_USERS = 5
DEFAULT_RECENTLY_PLAYED_RETENTION = 50
# Seeded histories stop a little before start-up so "plays now" are always the newest.
_HISTORY_GAP = timedelta(minutes=5)

FailureTarget = Literal["api", "accounts", "any"]


def utc_now() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A Spotify account the fake knows, with how many days of seeded history it gets."""

    id: str
    display_name: str
    email: str
    country: str = "SE"
    product: str = "premium"
    history_days: int = 0


DEMO_USERS: tuple[UserProfile, ...] = (
    UserProfile("demo", "Demo Listener", "demo@example.com", "SE", "premium", history_days=120),
    UserProfile(
        "31l5fy7xq3hjyh2n4cemrbq6muau", "Ines Moreau", "ines@example.com", "FR", history_days=60
    ),
    UserProfile("theo.brandt", "Theo Brandt", "theo@example.com", "DE", history_days=21),
)


def validate_redirect_uri(uri: str) -> None:
    """Refuse redirect URIs Spotify refuses: only https, or http on a loopback IP literal."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in {"127.0.0.1", "::1"}:
        return
    raise ValueError(
        f"redirect URI {uri!r} must use https, or http://127.0.0.1:PORT (localhost is refused)"
    )


@dataclass(slots=True)
class RegisteredApp:
    """A developer app: credentials, redirect URIs and its Development-Mode allowlist.

    An app handed to `FakeSpotifyState` with an empty allowlist gets the seeded users.
    """

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: frozenset[str]
    name: str = "Listening history"
    allowlist: set[str] = field(default_factory=set)

    def copy(self) -> RegisteredApp:
        """An independent copy (the allowlist is mutable)."""
        return replace(self, allowlist=set(self.allowlist))


class Switches(BaseModel):
    """Behaviour switches: settable in-process or over `POST /_control/switches`."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    auto_approve_user_id: str | None = Field(
        default=None, description="GET /authorize redirects at once with a code for this user."
    )
    rotate_refresh_tokens: bool = Field(
        default=False, description="A refresh returns a new refresh token and revokes the old one."
    )
    access_token_lifetime_seconds: int = Field(default=3600, ge=0)
    authorization_code_lifetime_seconds: int = Field(default=600, ge=0)
    response_delay_seconds: float = Field(default=0.0, ge=0, description="Delay every response.")
    development_mode: bool = Field(
        default=True,
        description="Allowlist enforced, search limit 10, Dev-Mode fields dropped.",
    )
    extended_quota: bool = Field(
        default=False, description="Batch GET /tracks and /artists allowed despite Dev Mode."
    )
    audio_features_enabled: bool = Field(
        default=False, description="Audio features answered instead of 403."
    )
    recently_played_retention: int = Field(
        default=DEFAULT_RECENTLY_PLAYED_RETENTION,
        ge=0,
        description="How many of a user's newest plays recently-played can see.",
    )


@dataclass(slots=True)
class InjectedFailure:
    """Answer matching requests with this status; `remaining=None` means until cleared."""

    status: int
    remaining: int | None
    retry_after_seconds: int | None
    target: FailureTarget

    def matches(self, path: str) -> bool:
        """True when the failure applies to a request for this path."""
        if self.target == "any":
            return True
        if self.target == "api":
            return path.startswith("/v1/")
        return path in {"/api/token", "/authorize"}


@dataclass(slots=True)
class FakeUser:
    """A user and their complete play history, oldest first."""

    profile: UserProfile
    plays: list[Play]

    @property
    def id(self) -> str:
        """The Spotify user ID."""
        return self.profile.id


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """A track in a playlist, with who added it and when."""

    track_id: str
    added_at: datetime
    added_by: str


@dataclass(slots=True)
class FakePlaylist:
    """A playlist created through the API."""

    id: str
    owner_id: str
    name: str
    description: str | None
    public: bool
    collaborative: bool
    entries: list[PlaylistEntry] = field(default_factory=list)
    version: int = 1

    @property
    def snapshot_id(self) -> str:
        """An opaque snapshot ID that changes with every modification."""
        return base64.b64encode(f"{self.version}:{self.id}".encode()).decode()


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the token endpoint hands out."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    scope: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """An issued access token and whose it is."""

    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass(slots=True)
class _RefreshGrant:
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass(slots=True)
class _AuthorizationCode:
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: datetime
    used: bool = False


class FakeSpotifyState:
    """The fake's whole memory; safe to read and change from tests while the server runs.

    With a `state_file`, issued grants, playlists and plays added to the seeded users are
    loaded from it at start and written back on every change, so tokens handed out before a
    restart keep working after it. Apps, switches and users created at run time are not kept.
    """

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        apps: Sequence[RegisteredApp] = (),
        users: Sequence[UserProfile] = DEMO_USERS,
        clock: Callable[[], datetime] = utc_now,
        catalogue_artists: int = 240,
        history_anchor: datetime | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.catalogue: Catalogue = build_catalogue(seed, artist_count=catalogue_artists)
        self.lock = threading.RLock()
        self._initial_users = list(users)
        self._initial_apps = []
        for app in apps:
            for uri in app.redirect_uris:
                validate_redirect_uri(uri)
            initial = app.copy()
            if not initial.allowlist:
                # Like a developer who added their household: the seeded users may sign in.
                initial.allowlist = {u.id for u in self._initial_users[:MAX_ALLOWLISTED_USERS]}
            self._initial_apps.append(initial)
        # The seeded histories end just before the anchor; a fixed anchor reproduces them
        # exactly (the demo seeds its database with the same plays the fake serves).
        anchor = truncate_to_millisecond(history_anchor or self.now())
        self._seeded_histories = {
            profile.id: tuple(self._seed_history(profile, anchor)) for profile in users
        }
        self._state_file: Path | None = None
        self.reset()
        if state_file is not None:
            saved = read_state_file(state_file)
            if saved is not None:
                self._restore(saved)
            self._state_file = state_file
            self._save()

    # -- lifecycle -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The fake's current time (tz-aware UTC)."""
        return self.clock()

    def reset(self) -> None:
        """Back to the state right after construction: seeded users, no grants, default switches."""
        with self.lock:
            self.switches = Switches()
            self.apps: dict[str, RegisteredApp] = {
                app.client_id: app.copy() for app in self._initial_apps
            }
            self.users: dict[str, FakeUser] = {
                profile.id: FakeUser(profile, list(self._seeded_histories.get(profile.id, ())))
                for profile in self._initial_users
            }
            self.playlists: dict[str, FakePlaylist] = {}
            self.failures: list[InjectedFailure] = []
            self.request_counts: Counter[str] = Counter()
            self.request_log: list[tuple[str, str]] = []
            self._codes: dict[str, _AuthorizationCode] = {}
            self._access: dict[str, AccessGrant] = {}
            self._refresh: dict[str, _RefreshGrant] = {}
            self._live_generators: dict[str, ListeningHistoryGenerator] = {}
            self._save()

    def _seed_history(self, profile: UserProfile, anchor: datetime) -> list[Play]:
        if profile.history_days <= 0:
            return []
        generator = ListeningHistoryGenerator(self.catalogue, f"{self.seed}:{profile.id}")
        end = anchor - _HISTORY_GAP
        return generator.history(end - timedelta(days=profile.history_days), end)

    # -- apps and users ----------------------------------------------------------------------

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        *,
        allowlist: Iterable[str] | None = None,
    ) -> RegisteredApp:
        """Register a developer app; its allowlist defaults to the seeded users (at most five)."""
        uris = frozenset(redirect_uris)
        for uri in uris:
            validate_redirect_uri(uri)
        members = list(allowlist) if allowlist is not None else list(self.users)
        if len(members) > MAX_ALLOWLISTED_USERS:
            raise ValueError(f"a Development-Mode app allows at most {MAX_ALLOWLISTED_USERS} users")
        app = RegisteredApp(client_id, client_secret, uris, allowlist=set(members))
        with self.lock:
            self.apps[client_id] = app
        return app

    def allowlist_user(self, client_id: str, user_id: str) -> None:
        """Add a user to an app's Development-Mode allowlist (at most five users)."""
        with self.lock:
            app = self.apps[client_id]
            if user_id not in app.allowlist and len(app.allowlist) >= MAX_ALLOWLISTED_USERS:
                raise ValueError(
                    f"a Development-Mode app allows at most {MAX_ALLOWLISTED_USERS} users"
                )
            app.allowlist.add(user_id)

    def remove_from_allowlist(self, client_id: str, user_id: str) -> None:
        """Take a user off an app's allowlist: their API calls get 403 in Development Mode."""
        with self.lock:
            self.apps[client_id].allowlist.discard(user_id)

    def add_user(
        self,
        user_id: str,
        display_name: str,
        *,
        email: str | None = None,
        history_days: int = 0,
        allowlist_for: Iterable[str] = (),
    ) -> FakeUser:
        """Create a user (optionally with seeded history) and allowlist them for the given apps."""
        profile = UserProfile(
            user_id, display_name, email or f"{user_id}@example.com", history_days=history_days
        )
        with self.lock:
            user = FakeUser(
                profile, self._seed_history(profile, truncate_to_millisecond(self.now()))
            )
            self.users[user_id] = user
            for client_id in allowlist_for:
                self.allowlist_user(client_id, user_id)
        return user

    def user(self, user_id: str) -> FakeUser:
        """The user with this ID (KeyError when unknown)."""
        return self.users[user_id]

    # -- plays -------------------------------------------------------------------------------

    def add_plays(self, user_id: str, count: int = 1, *, end: datetime | None = None) -> list[Play]:
        """Append `count` plausible plays ending now (or at `end`), newer than any existing one."""
        with self.lock:
            user = self.users[user_id]
            generator = self._live_generators.setdefault(
                user_id,
                ListeningHistoryGenerator(self.catalogue, f"{self.seed}:{user_id}:live"),
            )
            newest = user.plays[-1].played_at if user.plays else None
            plays = generator.plays_ending_at(
                count, truncate_to_millisecond(end or self.now()), newest
            )
            user.plays.extend(plays)
            self._save()
            return plays

    def add_play(
        self,
        user_id: str,
        track_id: str,
        played_at: datetime | None = None,
        context: PlayContext | None = None,
    ) -> Play:
        """Append one given play; it must be newer than the user's newest play."""
        if track_id not in self.catalogue.tracks:
            raise KeyError(f"unknown track {track_id}")
        moment = truncate_to_millisecond(played_at or self.now())
        if moment.tzinfo is None:
            raise ValueError("played_at must be tz-aware")
        with self.lock:
            user = self.users[user_id]
            if user.plays and moment <= user.plays[-1].played_at:
                raise ValueError("a new play must be newer than the newest play")
            play = Play(track_id=track_id, played_at=moment.astimezone(UTC), context=context)
            user.plays.append(play)
            self._save()
            return play

    def visible_plays(self, user_id: str) -> list[Play]:
        """The plays recently-played can still see: only the newest few, oldest first."""
        with self.lock:
            plays = self.users[user_id].plays
            retention = self.switches.recently_played_retention
            return list(plays[-retention:]) if retention else []

    # -- Accounts: codes and tokens ----------------------------------------------------------

    def client_for(self, client_id: str) -> RegisteredApp | None:
        """The registered app with this client ID, if any."""
        return self.apps.get(client_id)

    def authenticate_client(self, client_id: str, client_secret: str) -> RegisteredApp:
        """The app whose credentials these are, or `invalid_client` (400, as Spotify answers)."""
        app = self.apps.get(client_id)
        if app is None:
            raise TokenEndpointError("invalid_client", "Invalid client")
        if not secrets.compare_digest(app.client_secret, client_secret):
            raise TokenEndpointError("invalid_client", "Invalid client secret")
        return app

    def issue_code(
        self, client_id: str, user_id: str, redirect_uri: str, scopes: Sequence[str]
    ) -> str:
        """A single-use authorization code bound to the app, user and redirect URI."""
        code = "AQ" + secrets.token_urlsafe(150)
        lifetime = timedelta(seconds=self.switches.authorization_code_lifetime_seconds)
        with self.lock:
            self._codes[code] = _AuthorizationCode(
                client_id, user_id, redirect_uri, tuple(scopes), self.now() + lifetime
            )
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str | None) -> TokenGrant:
        """Exchange a code for tokens: once only, before it expires, with the same redirect URI."""
        with self.lock:
            grant = self._codes.get(code)
            if grant is None or grant.used or grant.client_id != client_id:
                raise TokenEndpointError("invalid_grant", "Invalid authorization code")
            if redirect_uri != grant.redirect_uri:
                raise TokenEndpointError("invalid_grant", "Invalid redirect URI")
            if self.now() >= grant.expires_at:
                raise TokenEndpointError("invalid_grant", "Authorization code expired")
            grant.used = True
            return self._issue(grant.user_id, client_id, grant.scopes, with_refresh=True)

    def refresh(self, refresh_token: str, client_id: str) -> TokenGrant:
        """A new access token for a refresh token; a new refresh token too when rotating."""
        with self.lock:
            grant = self._refresh.get(refresh_token)
            if grant is None or grant.client_id != client_id:
                raise TokenEndpointError("invalid_grant", "Invalid refresh token")
            if grant.revoked:
                raise TokenEndpointError("invalid_grant", "Refresh token revoked")
            rotate = self.switches.rotate_refresh_tokens
            if rotate:
                grant.revoked = True
            return self._issue(grant.user_id, client_id, grant.scopes, with_refresh=rotate)

    def issue_tokens(
        self, user_id: str, client_id: str | None = None, scopes: Sequence[str] | None = None
    ) -> TokenGrant:
        """Tokens for a user without the consent page (every scope unless told otherwise)."""
        with self.lock:
            if user_id not in self.users:
                raise KeyError(f"unknown user {user_id}")
            app_id = client_id or next(iter(self.apps))
            granted = tuple(ALL_SCOPES if scopes is None else scopes)
            return self._issue(user_id, app_id, granted, with_refresh=True)

    def revoke_refresh_tokens(self, user_id: str) -> int:
        """Revoke every refresh token of a user (they removed the app); returns how many."""
        with self.lock:
            revoked = 0
            for grant in self._refresh.values():
                if grant.user_id == user_id and not grant.revoked:
                    grant.revoked = True
                    revoked += 1
            self._save()
            return revoked

    def expire_access_tokens(self, user_id: str | None = None) -> None:
        """Make every current access token (of one user, or all) expired as of now."""
        with self.lock:
            now = self.now()
            for token, grant in self._access.items():
                if user_id is None or grant.user_id == user_id:
                    self._access[token] = replace(grant, expires_at=now)
            self._save()

    def _issue(
        self, user_id: str, client_id: str, scopes: tuple[str, ...], *, with_refresh: bool
    ) -> TokenGrant:
        lifetime = self.switches.access_token_lifetime_seconds
        access = "BQ" + secrets.token_urlsafe(160)
        self._access[access] = AccessGrant(
            user_id, client_id, scopes, self.now() + timedelta(seconds=lifetime)
        )
        refresh = None
        if with_refresh:
            refresh = "AQ" + secrets.token_urlsafe(96)
            self._refresh[refresh] = _RefreshGrant(user_id, client_id, scopes)
        # Saved before the tokens are handed out: a crash must not lose a token in use.
        self._save()
        return TokenGrant(access, refresh, " ".join(scopes), lifetime)

    # -- Web API: bearer tokens --------------------------------------------------------------

    def authenticate_bearer(self, authorization: str | None) -> AccessGrant:
        """The grant behind an `Authorization: Bearer` header, or the 401 Spotify would send."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise WebApiError(401, "No token provided")
        grant = self._access.get(token.strip())
        if grant is None:
            raise WebApiError(401, "Invalid access token")
        if self.now() >= grant.expires_at:
            raise WebApiError(401, "The access token expired")
        if self.switches.development_mode:
            app = self.apps.get(grant.client_id)
            if app is None or grant.user_id not in app.allowlist:
                raise WebApiError(
                    403,
                    "Check settings on developer.spotify.com/dashboard, "
                    "the user may not be registered.",
                )
        return grant

    # -- behaviour: failures and counters ----------------------------------------------------

    def inject_failures(
        self,
        status: int,
        count: int | None = 1,
        *,
        retry_after_seconds: int | None = None,
        target: FailureTarget = "api",
    ) -> None:
        """Answer the next `count` matching requests (None: all) with `status`."""
        if status == 429 and retry_after_seconds is None:
            retry_after_seconds = 1
        with self.lock:
            self.failures.append(InjectedFailure(status, count, retry_after_seconds, target))

    def clear_failures(self) -> None:
        """Stop injecting failures."""
        with self.lock:
            self.failures.clear()

    def take_failure(self, path: str) -> InjectedFailure | None:
        """The failure to answer this request with, counting it down."""
        with self.lock:
            for failure in self.failures:
                if not failure.matches(path):
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self.failures.remove(failure)
                return failure
            return None

    def record_request(self, method: str, path: str) -> None:
        """Count a request to a path (control routes are not counted)."""
        with self.lock:
            self.request_counts[path] += 1
            self.request_log.append((method, path))

    def request_count(self, path: str, method: str | None = None) -> int:
        """How many requests reached this exact path (optionally of one method)."""
        with self.lock:
            if method is None:
                return self.request_counts[path]
            return sum(1 for m, p in self.request_log if p == path and m == method.upper())

    # -- playlists ---------------------------------------------------------------------------

    def create_playlist(
        self,
        owner_id: str,
        name: str,
        *,
        description: str | None = None,
        public: bool = True,
        collaborative: bool = False,
    ) -> FakePlaylist:
        """Create an empty playlist owned by the user."""
        playlist_id = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(22))
        playlist = FakePlaylist(playlist_id, owner_id, name, description, public, collaborative)
        with self.lock:
            self.playlists[playlist_id] = playlist
            self._save()
        return playlist

    def add_playlist_items(
        self, playlist_id: str, track_ids: Sequence[str], added_by: str, position: int | None
    ) -> str:
        """Insert tracks (appended when no position); returns the new snapshot ID."""
        with self.lock:
            playlist = self.playlists[playlist_id]
            now = truncate_to_millisecond(self.now())
            entries = [PlaylistEntry(track_id, now, added_by) for track_id in track_ids]
            at = len(playlist.entries) if position is None else position
            playlist.entries[at:at] = entries
            playlist.version += 1
            self._save()
            return playlist.snapshot_id

    # -- the state file ----------------------------------------------------------------------

    def _save(self) -> None:
        """Write what a restart must keep to the state file, if there is one."""
        if self._state_file is None:
            return
        # Under the lock, so two changes can never land on disk in the wrong order.
        with self.lock:
            write_state_file(self._state_file, self._saved_state())

    def _saved_state(self) -> SavedState:
        added_plays = {}
        for user_id, seeded in self._seeded_histories.items():
            user = self.users.get(user_id)
            # Plays only ever append, so whatever follows the seeded history was added.
            if user is not None and len(user.plays) > len(seeded):
                added_plays[user_id] = tuple(
                    SavedPlay(
                        track_id=play.track_id,
                        played_at=play.played_at,
                        context=SavedContext(type=play.context.type, id=play.context.id)
                        if play.context is not None
                        else None,
                    )
                    for play in user.plays[len(seeded) :]
                )
        return SavedState(
            refresh_grants={
                token: SavedRefreshGrant(
                    user_id=grant.user_id,
                    client_id=grant.client_id,
                    scopes=grant.scopes,
                    revoked=grant.revoked,
                )
                for token, grant in self._refresh.items()
            },
            access_grants={
                token: SavedAccessGrant(
                    user_id=grant.user_id,
                    client_id=grant.client_id,
                    scopes=grant.scopes,
                    expires_at=grant.expires_at,
                )
                for token, grant in self._access.items()
            },
            playlists=tuple(
                SavedPlaylist(
                    id=playlist.id,
                    owner_id=playlist.owner_id,
                    name=playlist.name,
                    description=playlist.description,
                    public=playlist.public,
                    collaborative=playlist.collaborative,
                    entries=tuple(
                        SavedPlaylistEntry(
                            track_id=entry.track_id,
                            added_at=entry.added_at,
                            added_by=entry.added_by,
                        )
                        for entry in playlist.entries
                    ),
                    version=playlist.version,
                )
                for playlist in self.playlists.values()
            ),
            added_plays=added_plays,
        )

    def _restore(self, saved: SavedState) -> None:
        """Take back what an earlier run saved, leaving out what this run does not know.

        Grants of unknown users, and plays or playlist entries of tracks the catalogue does
        not have (another seed), are dropped rather than served half-broken.
        """
        tracks = self.catalogue.tracks
        with self.lock:
            self._refresh = {
                token: _RefreshGrant(g.user_id, g.client_id, g.scopes, g.revoked)
                for token, g in saved.refresh_grants.items()
                if g.user_id in self.users
            }
            self._access = {
                token: AccessGrant(g.user_id, g.client_id, g.scopes, g.expires_at.astimezone(UTC))
                for token, g in saved.access_grants.items()
                if g.user_id in self.users
            }
            self.playlists = {
                p.id: FakePlaylist(
                    p.id,
                    p.owner_id,
                    p.name,
                    p.description,
                    p.public,
                    p.collaborative,
                    [
                        PlaylistEntry(e.track_id, e.added_at.astimezone(UTC), e.added_by)
                        for e in p.entries
                        if e.track_id in tracks
                    ],
                    p.version,
                )
                for p in saved.playlists
            }
            for user_id, plays in saved.added_plays.items():
                user = self.users.get(user_id)
                if user is None:
                    continue
                for play in plays:
                    played_at = play.played_at.astimezone(UTC)
                    # Another history anchor may have seeded plays newer than the saved ones.
                    newest = user.plays[-1].played_at if user.plays else None
                    if play.track_id not in tracks or (newest is not None and played_at <= newest):
                        continue
                    context = (
                        PlayContext(play.context.type, play.context.id) if play.context else None
                    )
                    user.plays.append(Play(play.track_id, played_at, context))
