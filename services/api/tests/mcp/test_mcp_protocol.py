"""`/mcp` over real HTTP with the `mcp` SDK's own client: tools listed, read-only ones called."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from app.auth.tool_tokens import ToolTokenVerifier
from app.main import SpotifyMCPApp
from app.settings import AppSettings
from fake_spotify import FakeSpotifyServer
from fake_spotify.server import BackgroundServer
from shared.crypto import TokenEncryptor
from shared.db.enums import PlaySource, TokenScope
from shared.db.models import SpotifyToken
from shared.spotify import SpotifyClient
from testkit.factories import (
    create_api_token,
    create_artist,
    create_play,
    create_track,
    create_user,
)
from testkit.plugin import FreshDatabase
from testkit.spotify import DEMO_USER_ID, authorise_user, spotify_client_config

from .conftest import ADMIN_TOKEN, OTHER_TOKEN, USER_TOKEN


@dataclass(frozen=True)
class LiveTools:
    """The API serving over HTTP, and the IDs of its two users."""

    server: BackgroundServer
    listener_id: int
    other_id: int

    @property
    def url(self) -> str:
        """The MCP endpoint."""
        return f"{self.server.base_url}/mcp"


def mcp_client(url: str, token: str | None) -> Client:
    """The SDK's client over streamable HTTP, presenting `token`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = create_mcp_http_client(headers=headers)
    return Client(streamable_http_client(url, http_client=http))


@pytest.fixture
async def live_tools(
    fresh_database: FreshDatabase, fake_spotify: FakeSpotifyServer, api_settings: AppSettings
) -> AsyncIterator[LiveTools]:
    """A fresh database with a listener logged in to the fake Spotify, served by uvicorn."""
    settings = api_settings
    database = await fresh_database()
    async with SpotifyClient(spotify_client_config(fake_spotify)) as spotify:
        grant = (await authorise_user(fake_spotify, spotify)).tokens
    encryptor = TokenEncryptor.from_settings(settings)
    async with database.session(write=True) as session:
        listener = await create_user(
            session, spotify_user_id=DEMO_USER_ID, timezone="Europe/Stockholm"
        )
        other = await create_user(session)
        session.add(
            SpotifyToken(
                user_id=listener.id,
                access_token_encrypted=encryptor.encrypt(grant.access_token),
                refresh_token_encrypted=encryptor.encrypt(grant.refresh_token or ""),
                scope=grant.scope,
                expires_at=datetime.now(UTC) + timedelta(seconds=grant.expires_in),
            )
        )
        artist = await create_artist(session, name="Alpha")
        track = await create_track(session, name="One", artists=[artist])
        for hour in range(3):
            await create_play(
                session,
                user=listener,
                track=track,
                played_at=datetime(2024, 3, 4, 8 + hour, tzinfo=UTC),
                source=PlaySource.API,
            )
        for user, token in ((listener, USER_TOKEN), (other, OTHER_TOKEN)):
            await create_api_token(
                session,
                token_hash=ToolTokenVerifier.hash(token),
                scope=TokenScope.USER,
                user_id=user.id,
            )
        ids = (listener.id, other.id)
    await database.dispose()  # the server's own event loop opens the connections it uses
    app = SpotifyMCPApp(settings, database=database, owns_database=False)
    with BackgroundServer(app.app, name="api", lifespan="on") as server:
        yield LiveTools(server, *ids)


class TestProtocol:
    async def test_lists_tools_and_calls_every_read_only_one(self, live_tools: LiveTools) -> None:
        async with mcp_client(live_tools.url, ADMIN_TOKEN) as client:
            listed = await client.list_tools()
            tools = {tool.name: tool for tool in listed.tools}
            assert "history.top_artists" in tools
            assert "spotify.create_playlist" in tools
            read_only = [
                tool
                for tool in tools.values()
                if tool.annotations is not None and tool.annotations.read_only_hint
            ]
            assert len(read_only) >= 12
            for tool in tools.values():
                assert tool.annotations is not None
                assert tool.annotations.destructive_hint is not None
                assert tool.output_schema is not None
            for tool in read_only:
                required = set(tool.input_schema.get("required", []))
                args: dict[str, object] = {}
                if "user_id" in tool.input_schema["properties"]:
                    args["user_id"] = live_tools.listener_id
                args.update(_required_args(tool.name, required))
                result = await client.call_tool(tool.name, args)
                assert not result.is_error, (tool.name, result.content)
                assert result.structured_content is not None, tool.name

        # The structured answer carries the real numbers.
        async with mcp_client(live_tools.url, ADMIN_TOKEN) as client:
            result = await client.call_tool(
                "history.top_artists", {"user_id": live_tools.listener_id}
            )
            assert result.structured_content is not None
            artists = result.structured_content["artists"]
            assert [(a["name"], a["plays"]) for a in artists] == [("Alpha", 3)]

    async def test_tool_errors_are_reported_as_tool_errors(self, live_tools: LiveTools) -> None:
        async with mcp_client(live_tools.url, ADMIN_TOKEN) as client:
            result = await client.call_tool(
                "history.top_artists", {"user_id": live_tools.listener_id, "limit": 0}
            )
        assert result.is_error
        assert "invalid_arguments" in str(result.content)

    async def test_a_user_token_sees_only_its_user(self, live_tools: LiveTools) -> None:
        async with mcp_client(live_tools.url, USER_TOKEN) as client:
            own = await client.call_tool("history.top_artists", {})
            assert not own.is_error
            assert own.structured_content is not None
            assert own.structured_content["user_id"] == live_tools.listener_id
        async with mcp_client(live_tools.url, OTHER_TOKEN) as client:
            refused = await client.call_tool(
                "history.top_artists", {"user_id": live_tools.listener_id}
            )
        assert refused.is_error
        assert "forbidden" in str(refused.content)


class TestAuthentication:
    @pytest.mark.parametrize("token", [None, "wrong-token"])
    async def test_missing_or_wrong_token_gets_401_with_a_challenge(
        self, live_tools: LiveTools, token: str | None
    ) -> None:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        }
        async with httpx.AsyncClient() as http:
            response = await http.post(live_tools.url, json=initialize, headers=headers)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer")
        if token:
            assert 'error="invalid_token"' in challenge

    async def test_the_sdk_client_fails_without_a_token(self, live_tools: LiveTools) -> None:
        with pytest.raises(BaseException) as raised:  # noqa: PT011 - the SDK wraps it in groups
            async with mcp_client(live_tools.url, None) as client:
                await client.list_tools()
        # The SDK reports the refused request as an error response (the raw 401 is checked above).
        assert "MCPError" in _all_messages(raised.value)

    async def test_foreign_host_header_is_refused(self, live_tools: LiveTools) -> None:
        headers = {
            "Authorization": f"Bearer {ADMIN_TOKEN}",
            "Host": "attacker.example",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        async with httpx.AsyncClient() as http:
            response = await http.post(
                live_tools.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers
            )
        assert response.status_code == 421


def _all_messages(error: BaseException) -> str:
    """Every message in an exception, its causes and its groups."""
    parts = [repr(error)]
    if isinstance(error, BaseExceptionGroup):
        parts.extend(_all_messages(inner) for inner in error.exceptions)
    if error.__cause__ is not None:
        parts.append(_all_messages(error.__cause__))
    return " ".join(parts)


def _required_args(tool: str, required: set[str]) -> dict[str, object]:
    """Plausible values for the required arguments of the tools that have some."""
    known: dict[str, dict[str, object]] = {
        "spotify.search": {"query": "love"},
        "history.first_listen": {"artist": "Alpha"},
        "history.compare_periods": {
            "a_start": "2024-03-01",
            "a_end": "2024-03-04",
            "b_start": "2024-03-05",
            "b_end": "2024-03-31",
        },
    }
    values = known.get(tool, {})
    missing = required - set(values) - {"user_id"}
    assert not missing, f"no test value for {tool}'s required {missing}"
    return values
