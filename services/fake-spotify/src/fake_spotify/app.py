"""The fake's FastAPI application: Accounts, Web API, control API and behaviour switches."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fake_spotify.accounts import AccountsRouter
from fake_spotify.control import ControlRouter
from fake_spotify.errors import WebApiError
from fake_spotify.state import FakeSpotifyState, InjectedFailure
from fake_spotify.webapi import WebApiRouter

_FAILURE_MESSAGES = {
    429: "API rate limit exceeded",
    500: "Server error.",
    502: "Bad gateway.",
    503: "Service unavailable",
}
# Requests to these paths steer or decorate the fake; they are not Spotify traffic.
_UNCOUNTED_PREFIXES = ("/_control", "/image/")


def web_api_error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Spotify's Web API error envelope."""
    return JSONResponse(
        {"error": {"status": status, "message": message}}, status_code=status, headers=headers
    )


def _failure_response(failure: InjectedFailure, path: str) -> Response:
    headers = {}
    if failure.retry_after_seconds is not None:
        headers["Retry-After"] = str(failure.retry_after_seconds)
    message = _FAILURE_MESSAGES.get(failure.status, "Injected failure")
    if path.startswith("/v1/"):
        return web_api_error_response(failure.status, message, headers)
    error = "rate_limited" if failure.status == 429 else "server_error"
    return JSONResponse(
        {"error": error, "error_description": message},
        status_code=failure.status,
        headers=headers,
    )


class SwitchedBehaviour:
    """ASGI middleware: counts each request, then applies the delay and failure switches."""

    def __init__(self, app: ASGIApp, state: FakeSpotifyState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_UNCOUNTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        self.state.record_request(scope["method"], path)
        delay = self.state.switches.response_delay_seconds
        if delay > 0:
            received = await _delay_unless_abandoned(delay, receive)
            if received is None:
                return  # the client gave up waiting: there is nobody left to answer
            receive = _replaying(received, receive)
        failure = self.state.take_failure(path)
        if failure is not None:
            await _failure_response(failure, path)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _delay_unless_abandoned(seconds: float, receive: Receive) -> list[Message] | None:
    """Wait, reading the request body meanwhile; None when the client disconnects first.

    Listening while waiting is what lets a client that times out end the request quietly:
    after a disconnect the body can no longer be read, and the endpoint would fail on it.
    """

    async def listen() -> None:
        # Returns only on a disconnect: once the body is in, the next message is that.
        while (message := await receive())["type"] != "http.disconnect":
            received.append(message)

    received: list[Message] = []
    listener = asyncio.ensure_future(listen())
    try:
        done, _ = await asyncio.wait({listener}, timeout=seconds)
    finally:
        if not listener.done():
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
    if listener in done:
        listener.result()  # a disconnect, or the error that ended the listening
        return None
    return received


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the messages already read, then reads on."""
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


def create_fake_spotify_app(state: FakeSpotifyState) -> FastAPI:
    """Build the fake Spotify around a state object the caller keeps a handle on."""
    app = FastAPI(
        title="Fake Spotify", docs_url="/_control/docs", openapi_url="/_control/openapi.json"
    )
    app.state.fake_spotify = state
    app.include_router(AccountsRouter(state).router)
    app.include_router(WebApiRouter(state).router)
    app.include_router(ControlRouter(state).router)
    app.add_api_route("/image/{image_id}", cover_image, methods=["GET"], include_in_schema=False)

    app.add_middleware(SwitchedBehaviour, state=state)

    @app.exception_handler(WebApiError)
    async def web_api_error(request: Request, error: WebApiError) -> JSONResponse:
        """Render a Web API error in Spotify's envelope."""
        headers = dict(error.headers)
        if error.status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="spotify"')
        return web_api_error_response(error.status, error.message, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        """Malformed parameters: Spotify's 400 on the Web API, a plain 400 elsewhere."""
        # Spotify answers a malformed parameter with 400 "Invalid <name>", never 422.
        if not request.url.path.startswith("/v1/"):
            return JSONResponse({"detail": error.errors()}, status_code=400)
        location = error.errors()[0].get("loc", ()) if error.errors() else ()
        name = str(location[-1]) if location else "request"
        return web_api_error_response(400, f"Invalid {name}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        """Unknown routes and methods, in Spotify's envelope on the Web API."""
        if request.url.path.startswith("/v1/"):
            message = "Service not found" if error.status_code == 404 else str(error.detail)
            return web_api_error_response(error.status_code, message)
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)

    return app


async def cover_image(image_id: str) -> Response:
    """A generated square cover so demo pages show artwork without reaching Spotify's CDN."""
    digest = hashlib.sha256(image_id.encode()).hexdigest()
    background, accent = f"#{digest[:6]}", f"#{digest[6:12]}"
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" fill="{background}"/>'
        f'<circle cx="32" cy="32" r="18" fill="{accent}"/>'
        '<circle cx="32" cy="32" r="3" fill="#fff"/></svg>'
    )
    return Response(svg, media_type="image/svg+xml", headers={"cache-control": "max-age=86400"})
