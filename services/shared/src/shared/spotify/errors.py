"""Errors of the Spotify client: one small hierarchy, and no secret in any message.

Messages name the endpoint template (such as `/tracks/{id}`) and the status, never a
token, client secret, authorization code or e-mail address.
"""

from __future__ import annotations

from datetime import datetime


class SpotifyError(Exception):
    """Any failure talking to Spotify."""

    def __init__(
        self, message: str, *, status_code: int | None = None, endpoint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"endpoint={self.endpoint!r})"
        )


class SpotifyAuthError(SpotifyError):
    """The Accounts service refused a token request."""

    def __init__(
        self,
        message: str,
        *,
        error: str,
        status_code: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, endpoint=endpoint)
        self.error = error


class SpotifyInvalidGrantError(SpotifyAuthError):
    """The refresh token or code is dead (revoked, expired, reused): the user must reauthorize."""


class SpotifyInvalidClientError(SpotifyAuthError):
    """The client ID or secret is wrong: a configuration problem, not a user problem."""


class SpotifyUnauthorizedError(SpotifyError):
    """A Web API call was refused with 401 even after refreshing the access token."""


class SpotifyForbiddenError(SpotifyError):
    """A Web API call was refused with 403 (missing scope, not allowlisted, not the owner)."""


class SpotifyDevelopmentModeError(SpotifyForbiddenError):
    """403 from an endpoint Spotify removed or restricted for Development-Mode apps."""


class SpotifyNotFoundError(SpotifyError):
    """The resource does not exist (404)."""


class SpotifyBadRequestError(SpotifyError):
    """Spotify rejected the request's parameters (400)."""


class SpotifyRateLimitDeferred(SpotifyError):  # noqa: N818 - a deferral, not a crash
    """Spotify asked us to wait longer than we are willing to sleep: try again at `retry_at`."""

    def __init__(
        self,
        message: str,
        *,
        retry_at: datetime,
        retry_after_seconds: float,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, status_code=429, endpoint=endpoint)
        self.retry_at = retry_at
        self.retry_after_seconds = retry_after_seconds


class SpotifyUnavailableError(SpotifyError):
    """Spotify kept failing (5xx, timeouts, connection errors), or a write's answer was lost.

    `outcome_unknown` is true when a request that must not be repeated (a code exchange, a
    refresh, a playlist write) may have been carried out even though no answer came back.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        endpoint: str | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message, status_code=status_code, endpoint=endpoint)
        self.outcome_unknown = outcome_unknown


class SpotifyResponseError(SpotifyError):
    """Spotify answered with something the client cannot understand."""
