"""`GptActionsRouter`: the tools as ChatGPT GPT Actions: one typed operation per tool."""

from __future__ import annotations

import copy
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path
from fastapi.responses import JSONResponse

from app.mcp.auth import ToolCallerResolver
from app.mcp.invoker import ToolInvoker
from app.mcp.registry import Tool, ToolError

MAX_OPERATIONS = 30
"""ChatGPT accepts at most 30 operations per action."""
MAX_DESCRIPTION = 300
"""ChatGPT cuts operation descriptions at 300 characters."""
GPT_PATH_PREFIX = "/gpt/tools/"

Authorization = Annotated[str | None, Header(include_in_schema=False)]

_REF = re.compile(r"^#/\$defs/(?P<name>.+)$")


def operation_id(tool_name: str) -> str:
    """`history.top_artists` → `history_top_artists` (ChatGPT wants [A-Za-z0-9_-])."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", tool_name)


def short_description(text: str) -> str:
    """The description itself, or its leading sentences that fit in 300 characters."""
    if len(text) <= MAX_DESCRIPTION:
        return text
    kept = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > MAX_DESCRIPTION:
            break
        kept = candidate
    return kept or text[: MAX_DESCRIPTION - 1] + "…"


class _Components:
    """Collects the `$defs` of every schema into components/schemas, checking for clashes."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def hoist(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = copy.deepcopy(schema)
        for name, raw in schema.pop("$defs", {}).items():
            definition = self._rewrite(raw)
            if name in self.schemas and self.schemas[name] != definition:
                raise ValueError(f"two different schemas are both called {name!r}")
            self.schemas[name] = definition
        rewritten: dict[str, Any] = self._rewrite(schema)
        return rewritten

    def _rewrite(self, node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                match = _REF.match(value) if key == "$ref" and isinstance(value, str) else None
                if match:
                    out[key] = f"#/components/schemas/{match['name']}"
                else:
                    out[key] = self._rewrite(value)
            return out
        if isinstance(node, list):
            return [self._rewrite(item) for item in node]
        return node


class GptActionsRouter:
    """`GET /gpt/openapi.json` and the `POST /gpt/tools/{tool}` operations it describes."""

    def __init__(
        self, invoker: ToolInvoker, callers: ToolCallerResolver, *, public_base_url: str
    ) -> None:
        self._invoker = invoker
        self._callers = callers
        self._public_base_url = public_base_url.rstrip("/")
        self.router = APIRouter(prefix="/gpt", tags=["gpt-actions"])
        self.router.add_api_route(
            "/openapi.json", self.openapi, methods=["GET"], include_in_schema=False
        )
        self.router.add_api_route(
            "/tools/{tool_name}", self.call, methods=["POST"], include_in_schema=False
        )

    async def openapi(self) -> dict[str, Any]:
        """OpenAPI 3.1 for a GPT's Actions: flat typed arguments, one operation per tool."""
        return self.document()

    def document(self) -> dict[str, Any]:
        """The OpenAPI document, generated from the registry."""
        tools = list(self._invoker.registry)
        if len(tools) > MAX_OPERATIONS:
            raise ValueError(f"{len(tools)} tools; GPT Actions accept at most {MAX_OPERATIONS}")
        components = _Components()
        paths: dict[str, Any] = {}
        for tool in tools:
            paths[GPT_PATH_PREFIX + tool.name] = {"post": self._operation(tool, components)}
        components.schemas["ToolError"] = {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                }
            },
            "required": ["error"],
        }
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Spotify listening history",
                "version": "0.1.0",
                "description": "Questions about one person's complete Spotify listening history.",
            },
            "servers": [{"url": self._public_base_url}],
            "paths": paths,
            "components": {
                "schemas": components.schemas,
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearerAuth": []}],
        }

    def _operation(self, tool: Tool[Any, Any], components: _Components) -> dict[str, Any]:
        error = {
            "description": "The call failed.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ToolError"}}},
        }
        return {
            "operationId": operation_id(tool.name),
            "summary": tool.title,
            "description": short_description(tool.description),
            "x-openai-isConsequential": not tool.annotations.read_only,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": components.hoist(tool.input_schema())}},
            },
            "responses": {
                "200": {
                    "description": "The answer.",
                    "content": {
                        "application/json": {"schema": components.hoist(tool.output_schema())}
                    },
                },
                "401": error,
                "403": error,
                "404": error,
                "422": error,
            },
        }

    async def call(
        self,
        tool_name: Annotated[str, Path(max_length=100)],
        arguments: Annotated[dict[str, Any] | None, Body()] = None,
        authorization: Authorization = None,
    ) -> JSONResponse:
        """Run one tool with the flat arguments of its operation; the result is the body."""
        caller = await self._callers.require(authorization)
        try:
            result = await self._invoker.invoke(tool_name, arguments or {}, caller)
        except ToolError as exc:
            return JSONResponse(
                status_code=exc.status_code,
                content={"error": {"code": exc.code, "message": exc.message}},
            )
        return JSONResponse(result)
