"""`spotify-mcp mcp-stdio`: a local MCP client (as Claude Desktop runs it) gets the tools."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet
from mcp import Client, StdioServerParameters

from shared.db.enums import PlaySource
from shared.db.manager import DatabaseManager
from testkit.factories import create_artist, create_play, create_track, create_user
from testkit.plugin import FreshDatabase


async def _seed(database: DatabaseManager) -> tuple[int, int]:
    async with database.session(write=True) as session:
        listener = await create_user(session, spotify_user_id="stdio-listener", timezone="UTC")
        other = await create_user(session, spotify_user_id="stdio-other")
        artist = await create_artist(session, name="Alpha")
        track = await create_track(session, name="One", artists=[artist])
        for day in range(1, 4):
            await create_play(
                session,
                user=listener,
                track=track,
                played_at=datetime(2024, 5, day, 20, tzinfo=UTC),
                source=PlaySource.EXTENDED_EXPORT,
            )
        return listener.id, other.id


def _server(database: DatabaseManager, workdir: Path, *args: str) -> StdioServerParameters:
    env = {
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "APP_ENV": "dev",
        "PATH": "/usr/bin:/bin",
    }
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "spotify_mcp", "mcp-stdio", "--dir", str(workdir), *args],
        env=env,
    )


class TestStdio:
    async def test_a_user_scoped_client_lists_and_calls_tools(
        self, fresh_database: FreshDatabase, tmp_path: Path
    ) -> None:
        database = await fresh_database()
        listener_id, other_id = await _seed(database)
        params = _server(database, tmp_path, "--user", "stdio-listener")
        async with Client(params) as client:
            listed = await client.list_tools()
            assert "history.top_artists" in {tool.name for tool in listed.tools}
            result = await client.call_tool("history.top_artists", {})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["user_id"] == listener_id
            assert [(a["name"], a["plays"]) for a in result.structured_content["artists"]] == [
                ("Alpha", 3)
            ]
            refused = await client.call_tool("history.top_artists", {"user_id": other_id})
            assert refused.is_error
            assert "forbidden" in str(refused.content)

    async def test_without_a_user_every_user_is_reachable_by_id(
        self, fresh_database: FreshDatabase, tmp_path: Path
    ) -> None:
        database = await fresh_database()
        listener_id, _ = await _seed(database)
        async with Client(_server(database, tmp_path)) as client:
            users = await client.call_tool("ops.list_users", {})
            assert users.structured_content is not None
            assert users.structured_content["total"] == 2
            needs_user = await client.call_tool("history.coverage", {})
            assert needs_user.is_error
            coverage = await client.call_tool("history.coverage", {"user_id": listener_id})
            assert coverage.structured_content is not None
            assert coverage.structured_content["total_plays"] == 3
