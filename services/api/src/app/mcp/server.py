"""`MCPProtocolServer`: the registry over the Model Context Protocol (streamable HTTP, stdio)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from app.mcp.auth import TOOL_CHALLENGE, ToolCallerResolver
from app.mcp.invoker import ToolInvoker
from app.mcp.registry import Tool, ToolCaller, ToolError

SERVER_NAME = "spotify-listening-history"
INSTRUCTIONS = (
    "Tools over one person's (or a family's) complete Spotify listening history, kept by a "
    "self-hosted service. history.* tools answer from the stored plays (years, with the "
    "privacy export imported); spotify.* tools ask Spotify live; ops.* tools tell whether "
    "collection is healthy. Windows: `days`, or `start`/`end` ISO dates, or neither for all "
    "time. With an admin token, call ops.list_users first and pass user_id."
)
_CALLER_KEY = "tool_caller"


def allowed_hosts_and_origins(public_base_url: str) -> TransportSecuritySettings:
    """DNS-rebinding protection: the public host and loopback, nothing else."""
    parts = urlsplit(public_base_url)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if parts.hostname:
        hosts.append(parts.netloc)
        hosts.append(parts.hostname)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class MCPProtocolServer:
    """One low-level MCP server whose tools and calls come from the registry."""

    def __init__(self, invoker: ToolInvoker, *, version: str = "0.1.0") -> None:
        self._invoker = invoker
        self.server: Server[Any] = Server(
            SERVER_NAME,
            version=version,
            title="Spotify listening history",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self._fixed_caller: ToolCaller | None = None

    @staticmethod
    def describe(tool: Tool[Any, Any]) -> types.Tool:
        """A registry tool as MCP describes tools: schemas and explicit annotations."""
        a = tool.annotations
        return types.Tool(
            name=tool.name,
            title=tool.title,
            description=tool.description,
            input_schema=tool.input_schema(),
            output_schema=tool.output_schema(),
            annotations=types.ToolAnnotations(
                title=tool.title,
                read_only_hint=a.read_only,
                destructive_hint=a.destructive,
                idempotent_hint=a.idempotent,
                open_world_hint=a.open_world,
            ),
        )

    async def _list_tools(
        self, _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[self.describe(tool) for tool in self._invoker.registry])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            caller = self._caller(ctx)
            result = await self._invoker.invoke(params.name, params.arguments or {}, caller)
        except ToolError as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"{exc.code}: {exc.message}")],
                is_error=True,
            )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result, ensure_ascii=False))],
            structured_content=result,
        )

    def _caller(self, ctx: ServerRequestContext[Any]) -> ToolCaller:
        if self._fixed_caller is not None:
            return self._fixed_caller
        request = ctx.request
        state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
        caller = state.get(_CALLER_KEY)
        if not isinstance(caller, ToolCaller):
            raise ToolError("unauthorized", "A valid bearer token is required.", 401)
        return caller

    async def run_stdio(self, caller: ToolCaller) -> None:
        """Serve one local client over stdin/stdout as `caller` (e.g. Claude Desktop)."""
        from mcp.server.stdio import stdio_server  # noqa: PLC0415 - only the CLI needs it

        self._fixed_caller = caller
        async with stdio_server() as (read_stream, write_stream):
            await self.server.run(
                read_stream, write_stream, self.server.create_initialization_options()
            )


class MCPHttpEndpoint:
    """The `/mcp` ASGI endpoint: bearer auth first, then the SDK's streamable HTTP transport.

    Stateless with JSON responses: every request stands alone, so any API replica can serve
    any request and no session state needs sharing.
    """

    def __init__(
        self,
        protocol: MCPProtocolServer,
        callers: ToolCallerResolver,
        *,
        public_base_url: str,
    ) -> None:
        self._callers = callers
        self.manager = StreamableHTTPSessionManager(
            app=protocol.server,
            stateless=True,
            json_response=True,
            security_settings=allowed_hosts_and_origins(public_base_url),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The transport's task group; wrap the app's lifespan in it."""
        async with self.manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse requests without a valid bearer token; pass the caller to the tools."""
        authorization = Headers(scope=scope).get("authorization")
        caller = await self._callers.resolve(authorization)
        if caller is None:
            challenge = TOOL_CHALLENGE
            if authorization:
                challenge += ', error="invalid_token"'
            response = JSONResponse(
                {
                    "error": {
                        "code": "unauthorized",
                        "message": "A valid bearer token is required: the admin token or a "
                        "tool token.",
                    }
                },
                status_code=401,
                headers={"WWW-Authenticate": challenge},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[_CALLER_KEY] = caller
        await self.manager.handle_request(scope, receive, send)
