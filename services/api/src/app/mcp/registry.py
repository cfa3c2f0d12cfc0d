"""`MCPToolRegistry`: every tool once, feeding /mcp/call, the MCP server and GPT Actions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError

logger = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 60_000
"""Ceiling on a result's JSON, well under the 100,000 characters assistants accept."""

ArgsT = TypeVar("ArgsT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)


class ToolError(Exception):
    """A tool call that cannot be answered: a stable code, a message and an HTTP status."""

    def __init__(self, code: str, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class ToolAnnotations:
    """What a tool does to the world, stated explicitly for every tool."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool


READ_ONLY_LOCAL = ToolAnnotations(
    read_only=True, destructive=False, idempotent=True, open_world=False
)
"""Reads the service's own database only."""
READ_ONLY_SPOTIFY = ToolAnnotations(
    read_only=True, destructive=False, idempotent=True, open_world=True
)
"""Reads live data from Spotify."""


@dataclass(frozen=True)
class ToolCaller:
    """Who is calling: the admin (every user) or a token scoped to one user."""

    user_id: int | None
    """The only user this caller may ask about; None for admin-wide credentials."""
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        """Whether the caller may ask about any user."""
        return self.user_id is None

    def resolve_user(self, requested: int | None) -> int:
        """The user a call is about: required for the admin, defaulted and enforced otherwise."""
        if self.user_id is None:
            if requested is None:
                raise ToolError(
                    "invalid_arguments",
                    "user_id is required with an admin token (ops.list_users lists the users).",
                    422,
                )
            return requested
        if requested is not None and requested != self.user_id:
            raise ToolError("forbidden", "This token may only ask about its own user.", 403)
        return self.user_id


@dataclass(frozen=True)
class ToolContext:
    """What a handler gets besides its arguments: the caller and a database session."""

    caller: ToolCaller
    session: AsyncSession


ToolHandler = Callable[[ArgsT, ToolContext], Awaitable[OutT]]


@dataclass(frozen=True)
class Tool(Generic[ArgsT, OutT]):
    """One tool: a name, a description, typed arguments and output, a handler, annotations."""

    name: str
    title: str
    description: str
    args_model: type[ArgsT]
    output_model: type[OutT]
    handler: ToolHandler[ArgsT, OutT]
    annotations: ToolAnnotations

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments."""
        return self.args_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        """The JSON Schema of a successful result."""
        return self.output_model.model_json_schema(mode="serialization")

    def parse(self, raw: object) -> ArgsT:
        """Validated arguments, or a ToolError naming every problem."""
        try:
            return self.args_model.model_validate({} if raw is None else raw)
        except ValidationError as exc:
            raise ToolError("invalid_arguments", _describe(exc), 422) from None

    async def run(self, args: ArgsT, context: ToolContext) -> dict[str, Any]:
        """The handler's result as JSON-ready data, errors mapped to ToolError."""
        try:
            output = await self.handler(args, context)
        except ToolError:
            raise
        except AppError as exc:
            raise ToolError(exc.code, exc.message, exc.status_code) from None
        result: dict[str, Any] = output.model_dump(mode="json")
        size = len(output.model_dump_json())
        if size > MAX_OUTPUT_CHARS:
            # Lists are bounded so this cannot happen; if it does, say so rather than cut.
            logger.error("tool output too large", extra={"tool": self.name, "chars": size})
            raise ToolError("output_too_large", "The answer is too long; ask for fewer items.", 500)
        return result


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return "Invalid arguments: " + "; ".join(problems)


class MCPToolRegistry:
    """The tools, by name; every surface is generated from here."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool[Any, Any]] = {}

    def add(
        self,
        *,
        name: str,
        title: str,
        description: str,
        args: type[ArgsT],
        output: type[OutT],
        handler: ToolHandler[ArgsT, OutT],
        annotations: ToolAnnotations,
    ) -> Tool[ArgsT, OutT]:
        """Register a tool; a second tool of the same name is a start-up error."""
        if name in self._tools:
            raise ValueError(f"tool {name!r} is registered twice")
        tool = Tool(name, title, description, args, output, handler, annotations)
        self._tools[name] = tool
        return tool

    def __iter__(self) -> Iterator[Tool[Any, Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool[Any, Any]:
        """The tool called `name`, or a ToolError listing the known ones."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self._tools))
            raise ToolError("unknown_tool", f"There is no tool {name!r}. Tools: {known}.", 404)
        return tool

    async def call(self, name: str, raw_args: object, context: ToolContext) -> dict[str, Any]:
        """Validate and run one call; every failure is a ToolError."""
        tool = self.get(name)
        return await tool.run(tool.parse(raw_args), context)
