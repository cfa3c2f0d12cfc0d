"""Counts and times every HTTP request by its route template, never by its raw path."""

from __future__ import annotations

import time

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics.registry import UNMATCHED_ROUTE, Metrics


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/admin/users/{user_id}`), or "unmatched".

    Raw paths would make one time series per user id; requests answered before routing
    (404s, CORS preflights, 429s) have no template.
    """
    route = scope.get("route")
    path = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
    return path if isinstance(path, str) else UNMATCHED_ROUTE


_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetricsMiddleware:
    """Records each request's status and latency once its response has been sent."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and count it under its method, route template and status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if an exception escapes before a response

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            # Clients choose the method: an unknown one must not mint a new time series.
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "other"
            route = route_template(scope)
            self._metrics.http_requests.labels(method=method, route=route, status=str(status)).inc()
            self._metrics.http_request_duration.labels(method=method, route=route).observe(
                time.perf_counter() - started
            )
