"""`StdioToolServer`: the tools for one local MCP client (e.g. Claude Desktop) over stdio."""

from __future__ import annotations

import sys

from sqlalchemy import select

from app.admin.service import AdminService
from app.admin.uploads import ArchiveReceiver
from app.history.answers import answer_cache
from app.history.service import HistoryService
from app.main import build_tool_registry
from app.mcp.invoker import ToolInvoker
from app.mcp.registry import ToolCaller
from app.mcp.server import MCPProtocolServer
from app.settings import AppSettings
from shared.crypto import TokenEncryptor
from shared.db.manager import DatabaseManager
from shared.db.models import User
from shared.spotify import SpotifyClient, SpotifyClientConfig


class StdioToolServer:
    """Serves the registry's tools on stdin/stdout, as one user or, without one, as the admin.

    Whoever can start this command can already read the database, so no token is asked for;
    `--user` narrows what the client can see.
    """

    def __init__(self, settings: AppSettings) -> None:
        self._settings = settings

    async def serve(self, spotify_user_id: str | None) -> int:
        """Run until the client closes stdin; 1 when the user does not exist."""
        settings = self._settings
        database = DatabaseManager.from_settings(settings.database)
        spotify = SpotifyClient(SpotifyClientConfig.from_settings(settings.spotify))
        try:
            caller = ToolCaller(user_id=None)
            if spotify_user_id is not None:
                async with database.session() as session:
                    user_id = await session.scalar(
                        select(User.id).where(User.spotify_user_id == spotify_user_id)
                    )
                if user_id is None:
                    print(
                        f"error: no user has the Spotify user ID {spotify_user_id!r}",
                        file=sys.stderr,
                    )
                    return 1
                caller = ToolCaller(user_id=user_id)
            receiver = ArchiveReceiver(
                settings.import_dir, settings.import_max_zip_size_mb * 1024**2
            )
            registry = build_tool_registry(
                database,
                spotify,
                TokenEncryptor.from_settings(settings),
                AdminService(receiver),
                HistoryService(cache=answer_cache(settings)),
            )
            await MCPProtocolServer(ToolInvoker(registry, database)).run_stdio(caller)
            return 0
        finally:
            await spotify.aclose()
            await database.dispose()
