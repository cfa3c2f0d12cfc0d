"""What the plain HTTP tool API takes and answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.mcp.registry import Tool


class ToolAnnotationsOut(BaseModel):
    """What a tool does to the world."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool


class ToolDescription(BaseModel):
    """One tool: its name, what it does, and the JSON Schemas of its arguments and result."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    annotations: ToolAnnotationsOut

    @classmethod
    def of(cls, tool: Tool[Any, Any]) -> ToolDescription:
        """The description of a registered tool."""
        a = tool.annotations
        return cls(
            name=tool.name,
            title=tool.title,
            description=tool.description,
            input_schema=tool.input_schema(),
            output_schema=tool.output_schema(),
            annotations=ToolAnnotationsOut(
                read_only=a.read_only,
                destructive=a.destructive,
                idempotent=a.idempotent,
                open_world=a.open_world,
            ),
        )


class ToolList(BaseModel):
    """Every tool."""

    tools: list[ToolDescription]


class ToolCallRequest(BaseModel):
    """A call: the tool's name and its arguments."""

    tool: str = Field(min_length=1, max_length=100, examples=["history.top_artists"])
    args: dict[str, Any] = Field(
        default_factory=dict, examples=[{"user_id": 1, "days": 30, "limit": 5}]
    )


class ToolCallError(BaseModel):
    """Why a call failed: a stable code and a message for people."""

    code: str
    message: str


class ToolCallResponse(BaseModel):
    """The outcome of a call: the result on success, the error otherwise."""

    tool: str
    success: bool
    result: dict[str, Any] | None = None
    error: ToolCallError | None = None
