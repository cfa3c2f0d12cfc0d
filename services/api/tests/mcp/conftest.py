"""Tool fixtures: the API whose tool calls run in the test's transaction, and a small library.

The listener lives in Europe/Stockholm (UTC+1 in early March 2024). Their plays:

| track              | ends (UTC)       | local          | ms        | counts?              |
|--------------------|------------------|----------------|-----------|----------------------|
| One (Alpha)        | 2024-03-04 08:00 | Mon 09:00      |   200 000 | yes                  |
| One                | 2024-03-04 08:05 | Mon 09:05      |   100 000 | yes                  |
| Two (Alpha, Beta)  | 2024-03-05 18:30 | Tue 19:30      |   120 000 | yes                  |
| Three (Beta)       | 2024-03-05 23:30 | Wed 00:30      |    60 000 | yes                  |
| Two                | 2024-03-10 12:00 | Sun 13:00      |    29 999 | no: under 30 s       |
| Pod (episode)      | 2024-03-12 07:00 | Tue 08:00      | 1 800 000 | only with episodes   |

Another user has one play of One, so scoping mistakes show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.dependencies import get_session, get_write_session
from app.main import SpotifyMCPApp
from app.settings import AppSettings
from shared.db.enums import PlaySource, TokenScope
from shared.db.manager import DatabaseManager
from shared.db.models import Track, User
from testkit.factories import (
    create_api_token,
    create_artist,
    create_episode,
    create_play,
    create_track,
    create_user,
)

API_BASE_URL = "http://127.0.0.1:8000"
ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
USER_TOKEN = "smcp_listener-token-for-tests-0123456789"
OTHER_TOKEN = "smcp_other-token-for-tests-0123456789"


class TransactionSessions:
    """Hands tool calls the test's own session, so they see (and roll back with) its data."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """The test's session; work is flushed, never committed past the test."""
        del write
        yield self._session
        await self._session.flush()


def utc(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Library:
    """The seeded listener, the other user, and the catalogue."""

    listener: User
    other: User
    one: Track
    two: Track
    three: Track
    pod: Track


@pytest.fixture
async def library(db_session: AsyncSession) -> Library:
    """The plays in the table above, and a token for each user."""
    listener = await create_user(db_session, timezone="Europe/Stockholm", display_name="Listener")
    other = await create_user(db_session, timezone="UTC", display_name="Other")
    alpha = await create_artist(db_session, name="Alpha")
    beta = await create_artist(db_session, name="Beta")
    one = await create_track(db_session, name="One", album_name="First", artists=[alpha])
    two = await create_track(db_session, name="Two", album_name="Second", artists=[alpha, beta])
    three = await create_track(db_session, name="Three", album_name="Third", artists=[beta])
    pod = await create_episode(db_session, name="Pod")
    plays = [
        (one, "2024-03-04 08:00", 200_000, PlaySource.EXTENDED_EXPORT),
        (one, "2024-03-04 08:05", 100_000, PlaySource.EXTENDED_EXPORT),
        (two, "2024-03-05 18:30", 120_000, PlaySource.API),
        (three, "2024-03-05 23:30", 60_000, PlaySource.API),
        (two, "2024-03-10 12:00", 29_999, PlaySource.API),
        (pod, "2024-03-12 07:00", 1_800_000, PlaySource.API),
    ]
    for track, ended, ms_played, source in plays:
        await create_play(
            db_session,
            user=listener,
            track=track,
            played_at=utc(ended),
            ms_played=ms_played,
            source=source,
        )
    await create_play(db_session, user=other, track=one, played_at=utc("2024-03-06 10:00"))
    for user, token in ((listener, USER_TOKEN), (other, OTHER_TOKEN)):
        await create_api_token(
            db_session,
            name=f"{user.display_name}'s assistant",
            token_hash=_hash(token),
            token_prefix=token[:10],
            scope=TokenScope.USER,
            user_id=user.id,
        )
    return Library(listener, other, one, two, three, pod)


def _hash(token: str) -> str:
    from app.auth.tool_tokens import ToolTokenVerifier  # noqa: PLC0415

    return ToolTokenVerifier.hash(token)


@pytest.fixture
def tool_api(
    api_settings: AppSettings, database: DatabaseManager, db_session: AsyncSession
) -> SpotifyMCPApp:
    """The API whose requests and tool calls all run in the test's rolled-back transaction."""
    application = SpotifyMCPApp(
        api_settings, database=database, tool_sessions=TransactionSessions(db_session)
    )

    async def _session() -> AsyncIterator[AsyncSession]:
        yield db_session

    application.app.dependency_overrides[get_session] = _session
    application.app.dependency_overrides[get_write_session] = _session
    return application


@pytest.fixture
async def tools(tool_api: SpotifyMCPApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the API app."""
    transport = httpx.ASGITransport(app=tool_api.app)
    async with httpx.AsyncClient(transport=transport, base_url=API_BASE_URL) as http:
        yield http


async def call(
    client: httpx.AsyncClient, tool: str, args: dict[str, Any], token: str = ADMIN_TOKEN
) -> httpx.Response:
    """POST /mcp/call."""
    return await client.post(
        "/mcp/call",
        json={"tool": tool, "args": args},
        headers={"Authorization": f"Bearer {token}"},
    )
