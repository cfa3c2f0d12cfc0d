"""Per-request dependencies: the database session that owns the request's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.manager import DatabaseManager

_WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request: commits when the handler succeeds, rolls back when it raises."""
    database: DatabaseManager = request.app.state.database
    async with database.session(write=request.method in _WRITING_METHODS) as session:
        yield session


async def get_write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for a route that writes although its method is GET (the OAuth pages)."""
    database: DatabaseManager = request.app.state.database
    async with database.session(write=True) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a page never says
# "done" about work whose commit then fails.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
WriteSession = Annotated[AsyncSession, Depends(get_write_session, scope="function")]
