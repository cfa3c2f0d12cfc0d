"""`GET /metrics`: the Prometheus scrape endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.admin.auth import AdminAuthProvider
from app.errors import ErrorEnvelope
from app.metrics.registry import Metrics


class MetricsRouter:
    """Serves the app's metrics; behind the admin check unless METRICS_PUBLIC is true."""

    def __init__(self, metrics: Metrics, admin_auth: AdminAuthProvider, *, public: bool) -> None:
        self._metrics = metrics
        self.router = APIRouter(tags=["observability"])
        responses: dict[int | str, dict[str, Any]] = {
            200: {"content": {CONTENT_TYPE_LATEST.split(";", 1)[0]: {}}}
        }
        if not public:
            responses[401] = {"model": ErrorEnvelope}
        self.router.add_api_route(
            "/metrics",
            self.metrics,
            methods=["GET"],
            response_class=Response,
            responses=responses,
            description=(
                "Requests by method, route template and status, latency histograms, and the "
                "counters of rate limits, the collector and the tools, in the Prometheus text "
                "format. Unless METRICS_PUBLIC is true, scrapers send the admin bearer token."
            ),
            dependencies=[] if public else [Depends(admin_auth)],
        )

    async def metrics(self) -> Response:
        """The API's metrics for a Prometheus scraper."""
        return Response(self._metrics.render(), media_type=CONTENT_TYPE_LATEST)
