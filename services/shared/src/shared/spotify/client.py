"""An async client for Spotify's Accounts service and Web API, with retries and token refresh."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ValidationError

from shared.config import SpotifySettings
from shared.db.base import utc_now
from shared.logging import redact_text
from shared.logging.redaction import REDACTED
from shared.spotify.constants import (
    AUDIO_FEATURES_MAX_IDS,
    AUTHORIZE_PATH,
    DEFAULT_ACCOUNTS_URL,
    DEFAULT_API_URL,
    DEFAULT_SCOPES,
    DEVELOPMENT_MODE_RESTRICTED_ENDPOINTS,
    PLAYLIST_ADD_MAX_ITEMS,
    PLAYLIST_ITEMS_PAGE_MAX_LIMIT,
    RECENTLY_PLAYED_MAX_LIMIT,
    SEARCH_MAX_LIMIT_DEVELOPMENT_MODE,
    TOKEN_PATH,
    TOP_ITEMS_MAX_LIMIT,
)
from shared.spotify.errors import (
    SpotifyAuthError,
    SpotifyBadRequestError,
    SpotifyDevelopmentModeError,
    SpotifyError,
    SpotifyForbiddenError,
    SpotifyInvalidClientError,
    SpotifyInvalidGrantError,
    SpotifyNotFoundError,
    SpotifyRateLimitDeferred,
    SpotifyResponseError,
    SpotifyUnauthorizedError,
    SpotifyUnavailableError,
)
from shared.spotify.models import (
    Album,
    Artist,
    AudioFeatures,
    Paging,
    Playlist,
    PlaylistItem,
    PrivateUser,
    RecentlyPlayedPage,
    SearchResult,
    SearchType,
    SnapshotResponse,
    TimeRange,
    TokenResponse,
    Track,
    to_unix_ms,
)

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]
ModelT = TypeVar("ModelT", bound=BaseModel)

# Spotify's own error text is kept in messages for diagnosis, but cut short and scrubbed.
_MAX_REMOTE_MESSAGE = 200
# Refresh a little before the advertised expiry so a token never dies mid-request.
_EXPIRY_MARGIN = timedelta(seconds=60)
# Failures that prove the request never left this machine, so repeating it cannot repeat
# its effect: no connection was made, or none was free to send it on.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class SpotifyClientConfig:
    """One developer app's credentials and how patiently to retry; the secret is never shown."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    accounts_base_url: str = DEFAULT_ACCOUNTS_URL
    api_base_url: str = DEFAULT_API_URL
    timeout_seconds: float = 15.0
    max_retries: int = 4
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: SpotifySettings) -> SpotifyClientConfig:
        """The client configuration of a service's Spotify settings."""
        secret = settings.spotify_client_secret
        return cls(
            client_id=settings.spotify_client_id,
            client_secret=secret.get_secret_value() if secret is not None else "",
            redirect_uri=settings.spotify_redirect_uri,
            accounts_base_url=settings.spotify_accounts_url,
            api_base_url=settings.spotify_api_url,
            timeout_seconds=settings.spotify_timeout_seconds,
            max_retries=settings.spotify_max_retries,
            max_retry_after_seconds=settings.spotify_max_retry_after_seconds,
        )

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be zero or more")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.backoff_base_seconds < 0 or self.backoff_cap_seconds < 0:
            raise ValueError("backoff times must be zero or more")
        if self.max_retry_after_seconds < 0:
            raise ValueError("max_retry_after_seconds must be zero or more")


class TokenProvider(Protocol):
    """One user's credentials: the access token to use now, and a way to get a fresh one."""

    async def access_token(self) -> str:
        """The access token to send (refreshing first if it is known to be expired)."""
        ...

    async def refresh(self) -> str:
        """Refresh the access token (storing any rotated refresh token) and return it."""
        ...


class SpotifyClient:
    """Talks to Spotify for one developer app; per-user calls take that user's `TokenProvider`."""

    def __init__(
        self,
        config: SpotifyClientConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self.config = config
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_seconds), transport=transport
        )
        self._owns_http = http_client is None
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def __repr__(self) -> str:
        return f"SpotifyClient(client_id={self.config.client_id!r})"

    async def aclose(self) -> None:
        """Close the HTTP connection pool if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- Accounts ----------------------------------------------------------------------------

    def authorize_url(
        self, state: str, *, scopes: Sequence[str] = DEFAULT_SCOPES, show_dialog: bool = False
    ) -> str:
        """The URL to send a user to so they can grant this app access."""
        params = {
            "client_id": self.config.client_id,
            "response_type": "code",
            "redirect_uri": self.config.redirect_uri,
            "state": state,
            "scope": " ".join(scopes),
        }
        if show_dialog:
            params["show_dialog"] = "true"
        base = self.config.accounts_base_url.rstrip("/")
        return f"{base}{AUTHORIZE_PATH}?{urlencode(params, quote_via=quote)}"

    async def exchange_code(self, code: str) -> TokenResponse:
        """Trade the authorization code from the callback for an access and refresh token."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
        }
        return await self._token_request(form, hidden=(code,))

    async def refresh_access_token(self, refresh_token: str) -> TokenResponse:
        """A fresh access token; a `refresh_token` in the answer replaces the old one."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._token_request(form, hidden=(refresh_token,))

    # -- Web API: the user ------------------------------------------------------------------

    async def get_current_user(self, tokens: TokenProvider) -> PrivateUser:
        """The profile of the user the tokens belong to."""
        payload = await self._api("GET", "/me", tokens, idempotent=True)
        return _parse(PrivateUser, payload, "/me")

    async def get_recently_played(
        self,
        tokens: TokenProvider,
        *,
        limit: int = RECENTLY_PLAYED_MAX_LIMIT,
        after: datetime | int | None = None,
        before: datetime | int | None = None,
    ) -> RecentlyPlayedPage:
        """A page of recently played tracks, newest first; `after`/`before` are exclusive cursors.

        Spotify remembers only about the 50 newest plays, so a poller must come back before
        more than that have happened.
        """
        if after is not None and before is not None:
            raise ValueError("pass after or before, not both")
        _check_limit(limit, RECENTLY_PLAYED_MAX_LIMIT)
        params: dict[str, str | int] = {"limit": limit}
        if after is not None:
            params["after"] = _cursor_ms(after)
        if before is not None:
            params["before"] = _cursor_ms(before)
        endpoint = "/me/player/recently-played"
        payload = await self._api("GET", endpoint, tokens, idempotent=True, params=params)
        return _parse(RecentlyPlayedPage, payload, endpoint)

    async def get_top_artists(
        self,
        tokens: TokenProvider,
        *,
        time_range: TimeRange = TimeRange.MEDIUM_TERM,
        limit: int = 20,
        offset: int = 0,
    ) -> Paging[Artist]:
        """The user's top artists over a time range."""
        payload = await self._top(tokens, "artists", time_range, limit, offset)
        return _parse(Paging[Artist], payload, "/me/top/artists")

    async def get_top_tracks(
        self,
        tokens: TokenProvider,
        *,
        time_range: TimeRange = TimeRange.MEDIUM_TERM,
        limit: int = 20,
        offset: int = 0,
    ) -> Paging[Track]:
        """The user's top tracks over a time range."""
        payload = await self._top(tokens, "tracks", time_range, limit, offset)
        return _parse(Paging[Track], payload, "/me/top/tracks")

    async def _top(
        self, tokens: TokenProvider, kind: str, time_range: TimeRange, limit: int, offset: int
    ) -> Any:
        _check_limit(limit, TOP_ITEMS_MAX_LIMIT)
        params = {"time_range": time_range.value, "limit": limit, "offset": offset}
        return await self._api("GET", f"/me/top/{kind}", tokens, idempotent=True, params=params)

    # -- Web API: the catalogue -------------------------------------------------------------

    async def get_track(self, tokens: TokenProvider, track_id: str) -> Track:
        """One track by Spotify ID."""
        payload = await self._api(
            "GET", "/tracks/{id}", tokens, idempotent=True, path={"id": track_id}
        )
        return _parse(Track, payload, "/tracks/{id}")

    async def get_artist(self, tokens: TokenProvider, artist_id: str) -> Artist:
        """One artist by Spotify ID."""
        payload = await self._api(
            "GET", "/artists/{id}", tokens, idempotent=True, path={"id": artist_id}
        )
        return _parse(Artist, payload, "/artists/{id}")

    async def get_album(self, tokens: TokenProvider, album_id: str) -> Album:
        """One album by Spotify ID, with its first page of tracks."""
        payload = await self._api(
            "GET", "/albums/{id}", tokens, idempotent=True, path={"id": album_id}
        )
        return _parse(Album, payload, "/albums/{id}")

    async def search(
        self,
        tokens: TokenProvider,
        query: str,
        *,
        types: Sequence[SearchType] = (SearchType.TRACK,),
        limit: int = SEARCH_MAX_LIMIT_DEVELOPMENT_MODE,
        offset: int = 0,
    ) -> SearchResult:
        """Search the catalogue; Development-Mode apps get at most 10 results per type."""
        if not types:
            raise ValueError("search needs at least one type")
        params: dict[str, str | int] = {
            "q": query,
            "type": ",".join(t.value for t in types),
            "limit": limit,
            "offset": offset,
        }
        payload = await self._api("GET", "/search", tokens, idempotent=True, params=params)
        return _parse(SearchResult, payload, "/search")

    async def get_audio_features(self, tokens: TokenProvider, track_id: str) -> AudioFeatures:
        """One track's audio features (Development-Mode apps get SpotifyDevelopmentModeError)."""
        endpoint = "/audio-features/{id}"
        payload = await self._api("GET", endpoint, tokens, idempotent=True, path={"id": track_id})
        return _parse(AudioFeatures, payload, endpoint)

    async def get_several_audio_features(
        self, tokens: TokenProvider, track_ids: Sequence[str]
    ) -> list[AudioFeatures | None]:
        """Audio features of many tracks, in order; None where Spotify has none."""
        features: list[AudioFeatures | None] = []
        for start in range(0, len(track_ids), AUDIO_FEATURES_MAX_IDS):
            chunk = track_ids[start : start + AUDIO_FEATURES_MAX_IDS]
            payload = await self._api(
                "GET", "/audio-features", tokens, idempotent=True, params={"ids": ",".join(chunk)}
            )
            page = _parse(_AudioFeaturesList, payload, "/audio-features")
            features.extend(page.audio_features)
        return features

    # -- Web API: playlists -----------------------------------------------------------------

    async def create_playlist(
        self,
        tokens: TokenProvider,
        name: str,
        *,
        description: str | None = None,
        public: bool = False,
        collaborative: bool = False,
    ) -> Playlist:
        """Create a playlist for the current user (`POST /me/playlists`).

        Not repeated after a 5xx or a lost answer, which could create it twice: that raises
        SpotifyUnavailableError with `outcome_unknown` set.
        """
        body: dict[str, Any] = {"name": name, "public": public, "collaborative": collaborative}
        if description is not None:
            body["description"] = description
        payload = await self._api("POST", "/me/playlists", tokens, idempotent=False, json=body)
        return _parse(Playlist, payload, "/me/playlists")

    async def add_playlist_items(
        self,
        tokens: TokenProvider,
        playlist_id: str,
        uris: Sequence[str],
        *,
        position: int | None = None,
    ) -> SnapshotResponse | None:
        """Add every URI, in order, in requests of at most 100; returns the last snapshot.

        Spotify refuses more than 100 items per request; sending them in ordered chunks is
        what keeps a long playlist from being cut short. An empty list sends nothing. A chunk
        is not repeated after a 5xx or a lost answer, which could add it twice: that raises
        SpotifyUnavailableError with `outcome_unknown` set, the earlier chunks being added.
        """
        endpoint = "/playlists/{playlist_id}/items"
        snapshot: SnapshotResponse | None = None
        for start in range(0, len(uris), PLAYLIST_ADD_MAX_ITEMS):
            body: dict[str, Any] = {"uris": list(uris[start : start + PLAYLIST_ADD_MAX_ITEMS])}
            if position is not None:
                body["position"] = position + start
            payload = await self._api(
                "POST",
                endpoint,
                tokens,
                idempotent=False,
                path={"playlist_id": playlist_id},
                json=body,
            )
            snapshot = _parse(SnapshotResponse, payload, endpoint)
        return snapshot

    async def get_playlist_items(
        self, tokens: TokenProvider, playlist_id: str, *, limit: int = 50, offset: int = 0
    ) -> Paging[PlaylistItem]:
        """One page of a playlist's items."""
        _check_limit(limit, PLAYLIST_ITEMS_PAGE_MAX_LIMIT)
        endpoint = "/playlists/{playlist_id}/items"
        payload = await self._api(
            "GET",
            endpoint,
            tokens,
            idempotent=True,
            path={"playlist_id": playlist_id},
            params={"limit": limit, "offset": offset},
        )
        return _parse(Paging[PlaylistItem], payload, endpoint)

    # -- plumbing ---------------------------------------------------------------------------

    async def _token_request(self, form: dict[str, str], *, hidden: Sequence[str]) -> TokenResponse:
        credentials = f"{self.config.client_id}:{self.config.client_secret}".encode()
        headers = {"Authorization": f"Basic {base64.b64encode(credentials).decode()}"}
        url = f"{self.config.accounts_base_url.rstrip('/')}{TOKEN_PATH}"
        # Neither grant may be sent twice once it may have arrived: a code works only once,
        # and a refresh under rotation may already have retired the token it carried.
        response = await self._send(
            "POST", url, TOKEN_PATH, idempotent=False, headers=headers, data=form
        )
        if response.is_success:
            return _parse(TokenResponse, _json(response, TOKEN_PATH), TOKEN_PATH)
        error, description = _token_error(response)
        secrets = (self.config.client_secret, *hidden)
        message = (
            f"token request ({form['grant_type']}) refused with {response.status_code}: "
            f"{error}" + (f" ({_scrub(description, secrets)})" if description else "")
        )
        status = response.status_code
        if error == "invalid_grant":
            raise SpotifyInvalidGrantError(
                message, error=error, status_code=status, endpoint=TOKEN_PATH
            )
        if error == "invalid_client":
            raise SpotifyInvalidClientError(
                message, error=error, status_code=status, endpoint=TOKEN_PATH
            )
        raise SpotifyAuthError(message, error=error, status_code=status, endpoint=TOKEN_PATH)

    async def _api(
        self,
        method: str,
        endpoint: str,
        tokens: TokenProvider,
        *,
        idempotent: bool,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> Any:
        """Call a user endpoint; on 401, refresh the access token once and try again once.

        `idempotent` says whether repeating the request is harmless; a 401 is always retried,
        since Spotify refused the request without carrying it out.
        """
        url = self._api_url(endpoint, path or {})
        access = await tokens.access_token()
        refreshed = False
        while True:
            response = await self._send(
                method,
                url,
                endpoint,
                idempotent=idempotent,
                headers={"Authorization": f"Bearer {access}"},
                params=params,
                json=json,
            )
            if response.status_code == 401 and not refreshed:
                logger.info(
                    "Spotify %s %s answered 401; refreshing the access token", method, endpoint
                )
                refreshed = True
                access = await tokens.refresh()
                continue
            if response.is_success:
                return _json(response, endpoint) if response.content else None
            raise self._api_error(response, method, endpoint, secrets=(access,))

    def _api_url(self, endpoint: str, path: Mapping[str, str]) -> str:
        # Path values are quoted whole so an ID can never add path segments or a query.
        filled = endpoint.format(**{key: quote(value, safe="") for key, value in path.items()})
        return f"{self.config.api_base_url.rstrip('/')}{filled}"

    async def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        *,
        idempotent: bool,
        headers: Mapping[str, str],
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries: short 429s are slept out, 5xx and network errors backed off.

        A request that is not `idempotent` is repeated only when it certainly had no effect:
        it never left (connection refused or timed out) or Spotify answered 429. After a 5xx
        or a lost answer it may have been carried out, so it fails instead of running twice.
        """
        config = self.config
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, headers=headers, params=params, json=json, data=data
                )
            except httpx.TransportError as error:
                if not idempotent and not isinstance(error, _NOT_SENT_ERRORS):
                    raise SpotifyUnavailableError(
                        f"{method} {endpoint}: no answer ({type(error).__name__}); not retried, "
                        "the outcome is unknown (Spotify may have carried it out)",
                        endpoint=endpoint,
                        outcome_unknown=True,
                    ) from error
                if attempt >= config.max_retries:
                    raise SpotifyUnavailableError(
                        f"{method} {endpoint}: no answer after {attempt + 1} attempts "
                        f"({type(error).__name__})",
                        endpoint=endpoint,
                    ) from error
                await self._pause(self._backoff(attempt), method, endpoint, type(error).__name__)
                attempt += 1
                continue

            status = response.status_code
            if status == 429:
                wait = _retry_after_seconds(response, self._clock())
                if wait is None:
                    wait = self._backoff(attempt)
                if wait > config.max_retry_after_seconds or attempt >= config.max_retries:
                    raise SpotifyRateLimitDeferred(
                        f"{method} {endpoint} rate limited; Spotify asks to wait {wait:g} s",
                        retry_at=self._clock() + timedelta(seconds=wait),
                        retry_after_seconds=wait,
                        endpoint=endpoint,
                    )
                await self._pause(wait, method, endpoint, "429")
                attempt += 1
                continue
            if status >= 500:
                if not idempotent:
                    raise SpotifyUnavailableError(
                        f"{method} {endpoint} answered {status}; not retried, the outcome is "
                        "unknown (Spotify may have carried it out)",
                        status_code=status,
                        endpoint=endpoint,
                        outcome_unknown=True,
                    )
                if attempt >= config.max_retries:
                    raise SpotifyUnavailableError(
                        f"{method} {endpoint} answered {status} after {attempt + 1} attempts",
                        status_code=status,
                        endpoint=endpoint,
                    )
                await self._pause(self._backoff(attempt), method, endpoint, str(status))
                attempt += 1
                continue
            return response

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random, capped."""
        ceiling: float = min(
            self.config.backoff_cap_seconds, self.config.backoff_base_seconds * 2.0**attempt
        )
        return ceiling / 2 + self._jitter() * ceiling / 2

    async def _pause(self, seconds: float, method: str, endpoint: str, reason: str) -> None:
        logger.warning(
            "Spotify %s %s failed (%s); retrying in %.2f s", method, endpoint, reason, seconds
        )
        await self._sleep(seconds)

    def _api_error(
        self, response: httpx.Response, method: str, endpoint: str, *, secrets: Sequence[str]
    ) -> SpotifyError:
        status = response.status_code
        remote = _scrub(_api_error_message(response), (self.config.client_secret, *secrets))
        message = f"{method} {endpoint} failed with {status}" + (f": {remote}" if remote else "")
        if status == 400:
            return SpotifyBadRequestError(message, status_code=status, endpoint=endpoint)
        if status == 401:
            return SpotifyUnauthorizedError(message, status_code=status, endpoint=endpoint)
        if status == 403:
            if (method, endpoint) in DEVELOPMENT_MODE_RESTRICTED_ENDPOINTS:
                return SpotifyDevelopmentModeError(message, status_code=status, endpoint=endpoint)
            return SpotifyForbiddenError(message, status_code=status, endpoint=endpoint)
        if status == 404:
            return SpotifyNotFoundError(message, status_code=status, endpoint=endpoint)
        return SpotifyError(message, status_code=status, endpoint=endpoint)


class StaticTokenProvider:
    """One user's tokens held in memory, refreshed through the client.

    Keeps the rotated refresh token when Spotify sends one and refreshes ahead of a known
    expiry; `tokens` is always the current set, ready to be persisted by the caller.
    """

    def __init__(
        self, client: SpotifyClient, tokens: TokenResponse, *, clock: Clock = utc_now
    ) -> None:
        if tokens.refresh_token is None:
            raise ValueError("the token response carries no refresh token")
        self._client = client
        self._tokens = tokens
        self._clock = clock
        self.expires_at: datetime | None = clock() + timedelta(seconds=tokens.expires_in)
        self._lock = asyncio.Lock()
        self.refresh_count = 0
        self.rotation_count = 0

    @classmethod
    def from_pair(
        cls,
        client: SpotifyClient,
        *,
        access_token: str,
        refresh_token: str,
        expires_at: datetime | None = None,
        scope: str = "",
        clock: Clock = utc_now,
    ) -> StaticTokenProvider:
        """A provider for a stored token pair; no expiry means "use it until a 401"."""
        tokens = TokenResponse(
            access_token=access_token, refresh_token=refresh_token, scope=scope, expires_in=0
        )
        provider = cls(client, tokens, clock=clock)
        provider.expires_at = expires_at
        return provider

    def __repr__(self) -> str:
        return (
            f"StaticTokenProvider(expires_at={self.expires_at!r}, "
            f"refresh_count={self.refresh_count}, rotation_count={self.rotation_count})"
        )

    @property
    def tokens(self) -> TokenResponse:
        """The current tokens; `refresh_token` is the newest one Spotify handed out."""
        return self._tokens

    @property
    def refresh_token(self) -> str:
        """The refresh token to keep."""
        return self._tokens.refresh_token or ""

    async def access_token(self) -> str:
        """The current access token, refreshed first when it is about to expire."""
        if self.expires_at is not None and self._clock() >= self.expires_at - _EXPIRY_MARGIN:
            return await self.refresh()
        return self._tokens.access_token

    async def refresh(self) -> str:
        """Refresh now; raises SpotifyInvalidGrantError when the user must reauthorize."""
        async with self._lock:
            current = self.refresh_token
            fresh = await self._client.refresh_access_token(current)
            rotated = fresh.refresh_token is not None and fresh.refresh_token != current
            # Spotify omits refresh_token when it does not rotate: the old one stays valid.
            self._tokens = fresh.model_copy(
                update={"refresh_token": fresh.refresh_token or current}
            )
            self.expires_at = self._clock() + timedelta(seconds=fresh.expires_in)
            self.refresh_count += 1
            if rotated:
                self.rotation_count += 1
            return fresh.access_token


class _AudioFeaturesList(BaseModel):
    audio_features: list[AudioFeatures | None]


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise ValueError(f"limit must be between 1 and {maximum}")


def _cursor_ms(value: datetime | int) -> int:
    return to_unix_ms(value) if isinstance(value, datetime) else value


def _parse(model: type[ModelT], payload: Any, endpoint: str) -> ModelT:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        # The validation text quotes the payload, which can hold personal data: leave it out.
        raise SpotifyResponseError(
            f"{endpoint}: unexpected response shape ({error.error_count()} problems, "
            f"first at {'.'.join(str(p) for p in error.errors()[0]['loc'])})",
            endpoint=endpoint,
        ) from None


def _json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise SpotifyResponseError(
            f"{endpoint}: response is not JSON", status_code=response.status_code, endpoint=endpoint
        ) from None


def _api_error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return ""


def _token_error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "unknown_error", ""
    if not isinstance(body, dict):
        return "unknown_error", ""
    error = body.get("error")
    description = body.get("error_description")
    return (
        error if isinstance(error, str) else "unknown_error",
        description if isinstance(description, str) else "",
    )


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """Remote text made safe for messages and logs: no secrets, no personal data, short."""
    # The secrets this client holds are masked exactly; anything else shaped like a
    # credential or personal data is masked the way the logs mask it.
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = redact_text(text)
    if len(text) > _MAX_REMOTE_MESSAGE:
        text = text[:_MAX_REMOTE_MESSAGE] + "..."
    return text


def _retry_after_seconds(response: httpx.Response, now: datetime) -> float | None:
    """Retry-After as seconds: Spotify sends an integer, HTTP also allows a date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())
