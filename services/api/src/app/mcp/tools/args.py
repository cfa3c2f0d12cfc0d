"""Argument models shared by the tools: whose history, and which plays."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.history.schemas import PlayFilter

MAX_USER_ID = 2_147_483_647

USER_ID_DESCRIPTION = (
    "The user's ID (ops.list_users lists them). Required with an admin token; a user's own "
    "token defaults to its user and may ask about no other."
)


class UserArgs(BaseModel):
    """Arguments of a tool about one user."""

    model_config = ConfigDict(extra="forbid")

    user_id: int | None = Field(default=None, ge=1, le=MAX_USER_ID, description=USER_ID_DESCRIPTION)


class WindowArgs(PlayFilter):
    """A user and a window of plays: `days`, or `start`/`end`, or neither for all time."""

    model_config = ConfigDict(extra="forbid")

    user_id: int | None = Field(default=None, ge=1, le=MAX_USER_ID, description=USER_ID_DESCRIPTION)

    def play_filter(self) -> PlayFilter:
        """The window and play rules alone, as the history service takes them."""
        return PlayFilter.model_validate(
            {name: getattr(self, name) for name in PlayFilter.model_fields}
        )
