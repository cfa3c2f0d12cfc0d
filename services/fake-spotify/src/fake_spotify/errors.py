"""Errors the fake raises inside, each rendered in the shape Spotify uses for that service."""

from __future__ import annotations


class WebApiError(Exception):
    """A Web API failure, rendered as `{"error": {"status": N, "message": "..."}}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class TokenEndpointError(Exception):
    """An Accounts token-endpoint failure, rendered as `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


class AuthorizeError(Exception):
    """A request to /authorize that Spotify answers with an error page, not a redirect."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
