"""`MCPRouter`: `GET /mcp/tools` and `POST /mcp/call`, the plain HTTP face of the tools."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from app.errors import ErrorEnvelope
from app.mcp.auth import ToolCallerResolver
from app.mcp.invoker import ToolInvoker
from app.mcp.registry import ToolError
from app.mcp.schemas import (
    ToolCallError,
    ToolCallRequest,
    ToolCallResponse,
    ToolDescription,
    ToolList,
)

Authorization = Annotated[str | None, Header(include_in_schema=False)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorEnvelope, "description": "No valid bearer token."},
}


class MCPRouter:
    """Lists the tools and runs calls for a bearer token's caller."""

    def __init__(self, invoker: ToolInvoker, callers: ToolCallerResolver) -> None:
        self._invoker = invoker
        self._callers = callers
        self.router = APIRouter(prefix="/mcp", tags=["tools"], responses=_RESPONSES)
        self.router.add_api_route(
            "/tools", self.list_tools, methods=["GET"], response_model=ToolList
        )
        self.router.add_api_route(
            "/call",
            self.call,
            methods=["POST"],
            response_model=ToolCallResponse,
            responses={
                403: {"model": ToolCallResponse, "description": "Another user's data."},
                404: {"model": ToolCallResponse, "description": "Unknown tool or user."},
                422: {"model": ToolCallResponse, "description": "Invalid arguments."},
            },
        )

    async def list_tools(self, authorization: Authorization = None) -> ToolList:
        """Every tool with the JSON Schemas of its arguments and result, and its annotations."""
        await self._callers.require(authorization)
        return ToolList(tools=[ToolDescription.of(tool) for tool in self._invoker.registry])

    async def call(
        self, request: ToolCallRequest, authorization: Authorization = None
    ) -> ToolCallResponse | JSONResponse:
        """Run one tool: `{tool, args}` in, `{tool, success, result, error}` out."""
        caller = await self._callers.require(authorization)
        try:
            result = await self._invoker.invoke(request.tool, request.args, caller)
        except ToolError as exc:
            body = ToolCallResponse(
                tool=request.tool,
                success=False,
                error=ToolCallError(code=exc.code, message=exc.message),
            )
            return JSONResponse(status_code=exc.status_code, content=body.model_dump(mode="json"))
        return ToolCallResponse(tool=request.tool, success=True, result=result)
