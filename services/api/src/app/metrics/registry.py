"""`Metrics`: the API's Prometheus metrics, in a registry owned by one app instance."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# From a cached page (a few ms) to a slow Spotify round trip (tens of seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

UNMATCHED_ROUTE = "unmatched"


class Metrics:
    """The metrics one API instance exports; not the process-global registry.

    Several apps in one process (tests, replicas in one worker) would otherwise clash on
    metric names. Features add their own with `counter` and `histogram`.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = self.counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
        )
        self.http_request_duration = self.histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
        )
        self.rate_limited = self.counter(
            "http_rate_limited", "Requests refused with 429, by rate-limit rule.", ("rule",)
        )

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A new counter in this registry (exported as `<name>_total`)."""
        return Counter(name, documentation, labels, registry=self.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        """A new histogram in this registry."""
        return Histogram(name, documentation, labels, registry=self.registry, buckets=buckets)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
