"""A 500 in the API's error envelope for exceptions no handler took, inside the other layers.

Starlette's own last resort (ServerErrorMiddleware) answers outside every user middleware,
so its plain-text 500 would miss the security headers, the request ID and the metrics.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response

logger = logging.getLogger(__name__)

INTERNAL_ERROR_MESSAGE = (
    "Something went wrong on our side; the error was logged with this request's ID."
)


class UnhandledErrorMiddleware:
    """Logs an unhandled exception and answers 500 without revealing its text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request; turn an escaping exception into the 500 envelope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if response_started:
                raise  # half a response is out: only the server can end the connection
            logger.exception("Unhandled error answering %s %s", scope["method"], scope["path"])
            response = error_response(500, "internal_error", INTERNAL_ERROR_MESSAGE)
            await response(scope, receive, send)
