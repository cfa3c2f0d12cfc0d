"""`/metrics`: requests by route template and status, latency and rate limits; admin-only."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.main import SpotifyMCPApp

from .conftest import ADMIN, build_app, http_client


def _with_widget_route(application: SpotifyMCPApp) -> SpotifyMCPApp:
    async def widget(widget_id: int) -> dict[str, int]:
        return {"id": widget_id}

    async def explode() -> None:
        raise RuntimeError("boom")

    application.app.add_api_route("/test/widgets/{widget_id}", widget, methods=["GET"])
    application.app.add_api_route("/test/explode", explode, methods=["GET"])
    return application


async def _scrape(http: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await http.get("/metrics", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


class TestRequestMetrics:
    async def test_requests_are_counted_by_route_template_and_status(self) -> None:
        async with http_client(_with_widget_route(build_app())) as http:
            await http.get("/test/widgets/42")
            await http.get("/test/widgets/43")
            await http.get("/test/widgets/not-a-number")
            await http.get("/no/such/route")
            await http.get("/test/explode")
            samples = await _scrape(http)
        requests = "http_requests_total"
        template = "/test/widgets/{widget_id}"
        assert samples[_key(requests, method="GET", route=template, status="200")] == 2
        assert samples[_key(requests, method="GET", route=template, status="422")] == 1
        assert samples[_key(requests, method="GET", route="unmatched", status="404")] == 1
        assert samples[_key(requests, method="GET", route="/test/explode", status="500")] == 1
        assert not any("/test/widgets/4" in dict(labels).get("route", "") for _, labels in samples)

    async def test_latency_is_a_histogram_per_route_template(self) -> None:
        async with http_client(_with_widget_route(build_app())) as http:
            await http.get("/test/widgets/7")
            samples = await _scrape(http)
        route = "/test/widgets/{widget_id}"
        count = _key("http_request_duration_seconds_count", method="GET", route=route)
        infinite_bucket = _key(
            "http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf"
        )
        assert samples[count] == 1
        assert samples[infinite_bucket] == 1

    async def test_refusals_are_counted_per_rate_limit_rule(self) -> None:
        async with http_client(build_app(auth_rate_limit="1/minute")) as http:
            await http.get("/auth/login")
            await http.get("/auth/login")
            samples = await _scrape(http)
        assert samples[_key("http_rate_limited_total", rule="auth")] == 1

    async def test_each_app_instance_has_its_own_registry(self) -> None:
        first, second = build_app(), build_app()
        async with http_client(first) as http:
            await http.get("/healthz")
        async with http_client(second) as http:
            samples = await _scrape(http)
        assert _key("http_requests_total", method="GET", route="/healthz", status="200") not in (
            samples
        )


class TestMetricsAccess:
    async def test_admin_credentials_are_required_by_default(self) -> None:
        async with http_client(build_app()) as http:
            anonymous = await http.get("/metrics")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer wrong"})
            admin = await http.get("/metrics", headers=ADMIN)
        assert anonymous.status_code == 401
        assert wrong.status_code == 401
        assert admin.status_code == 200
        assert "http_requests_total" in admin.text

    async def test_metrics_public_serves_scrapers_without_credentials(self) -> None:
        async with http_client(build_app(metrics_public=True)) as http:
            response = await http.get("/metrics")
        assert response.status_code == 200


async def test_made_up_methods_share_one_label() -> None:
    async with http_client(build_app()) as http:
        await http.request("FOO", "/healthz")
        await http.request("BAR", "/healthz")
        body = (await http.get("/metrics", headers=ADMIN)).text
    assert 'method="FOO"' not in body
    assert 'method="other"' in body
