"""Request parameters shared by the routers, bounded so nonsense is a 422, never a 500."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# Row IDs are 32-bit on every table a client names; a bigger number cannot exist, and
# passing it on would overflow the drivers.
MAX_ID = 2**31 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Row ID.")]
UserIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's ID.")]
UserIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="The user's ID.")]
