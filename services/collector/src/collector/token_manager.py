"""`CollectorTokenManager`: the collector's view of a user's stored Spotify tokens."""

from __future__ import annotations

from shared.spotify.stored_tokens import (
    MissingTokensError,
    StoredTokenManager,
    UserNeedsReauthorisationError,
)

__all__ = ["CollectorTokenManager", "MissingTokensError", "UserNeedsReauthorisationError"]


class CollectorTokenManager(StoredTokenManager):
    """A `TokenProvider` for one user's polls and syncs, refreshing and rotating as needed."""
