"""Prometheus metrics of one API instance and the `/metrics` endpoint."""

from app.metrics.middleware import HttpMetricsMiddleware, route_template
from app.metrics.registry import Metrics

__all__ = ["HttpMetricsMiddleware", "Metrics", "route_template"]
