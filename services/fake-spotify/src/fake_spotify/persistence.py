"""The fake's memory on disk: issued grants, playlists and added plays, kept across restarts.

The file holds live tokens, so it is only ever readable by its owner (mode 0600), and it is
replaced whole (a temporary file renamed over it) so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from fake_spotify.history import ContextType


class _Saved(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SavedRefreshGrant(_Saved):
    """A refresh token's grant."""

    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


class SavedAccessGrant(_Saved):
    """An access token's grant."""

    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: AwareDatetime


class SavedContext(_Saved):
    """Where a play started."""

    type: ContextType
    id: str


class SavedPlay(_Saved):
    """A play added while the fake ran (seeded plays are regenerated from the seed)."""

    track_id: str
    played_at: AwareDatetime
    context: SavedContext | None = None


class SavedPlaylistEntry(_Saved):
    """A track in a playlist."""

    track_id: str
    added_at: AwareDatetime
    added_by: str


class SavedPlaylist(_Saved):
    """A playlist created through the API."""

    id: str
    owner_id: str
    name: str
    description: str | None
    public: bool
    collaborative: bool
    entries: tuple[SavedPlaylistEntry, ...] = ()
    version: int = 1


class SavedState(_Saved):
    """Everything a restart must not forget; tokens are the keys of the grant maps."""

    format: Literal[1] = 1
    refresh_grants: dict[str, SavedRefreshGrant] = Field(default_factory=dict)
    access_grants: dict[str, SavedAccessGrant] = Field(default_factory=dict)
    playlists: tuple[SavedPlaylist, ...] = ()
    added_plays: dict[str, tuple[SavedPlay, ...]] = Field(default_factory=dict)


def read_state_file(path: Path) -> SavedState | None:
    """The saved state, or None when the file does not exist yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return SavedState.model_validate_json(text)
    except ValidationError as error:
        # The message names the problem's place, not its value: the value may be a token.
        location = ".".join(str(part) for part in error.errors()[0]["loc"]) or "the top level"
        raise ValueError(
            f"state file {path} is not a fake Spotify state file "
            f"({error.error_count()} problems, first at {location})"
        ) from None


def write_state_file(path: Path, state: SavedState) -> None:
    """Replace the file with this state atomically, readable by its owner only."""
    # mkstemp creates the file with mode 0600 whatever the umask, before a token is written.
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(state.model_dump_json(indent=2))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
