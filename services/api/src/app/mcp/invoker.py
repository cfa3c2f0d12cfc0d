"""`ToolInvoker`: runs one tool call in its own database session, for every surface."""

from __future__ import annotations

import logging
import time
from typing import Any

from app.mcp.registry import MCPToolRegistry, ToolCaller, ToolContext, ToolError
from shared.db.manager import SessionSource

logger = logging.getLogger(__name__)


class ToolInvoker:
    """Validates, runs and logs a call; the result is JSON-ready data or a ToolError."""

    def __init__(self, registry: MCPToolRegistry, sessions: SessionSource) -> None:
        self.registry = registry
        self._sessions = sessions

    async def invoke(self, name: str, raw_args: object, caller: ToolCaller) -> dict[str, Any]:
        """Run `name` with `raw_args` for `caller`."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            tool = self.registry.get(name)
            args = tool.parse(raw_args)
            async with self._sessions.session() as session:
                return await tool.run(args, ToolContext(caller=caller, session=session))
        except ToolError as exc:
            outcome = exc.code
            raise
        finally:
            logger.info(
                "tool call",
                extra={
                    "tool": name[:100],
                    "outcome": outcome,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "scoped_user_id": caller.user_id,
                },
            )
