"""A request ID on every request: in the log context, in request.state and in the response."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logging import bind_log_context

REQUEST_ID_HEADER = "X-Request-ID"
# Inbound IDs end up in log lines and the logs table: only short, plain tokens are kept.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id_for(inbound: str | None) -> str:
    """The caller's ID when well formed (so a trace spans services), else a new UUID4."""
    if inbound is not None and _WELL_FORMED.fullmatch(inbound):
        return inbound
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Binds the request ID for the whole request, error responses included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Bind the ID to logs and `request.state.request_id`; echo it in the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(Headers(scope=scope).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with bind_log_context(request_id=request_id):
            await self.app(scope, receive, send_with_id)
