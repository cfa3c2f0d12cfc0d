"""Security headers on every response: success, client errors, server errors, HTML and JSON."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.middleware.security_headers import BASE_HEADERS, HSTS

from .conftest import build_app, http_client

SENTINEL = "sentinel-exception-text-9f2c"


def _add_failing_route(app: FastAPI) -> None:
    async def explode() -> None:
        raise RuntimeError(SENTINEL)

    app.add_api_route("/test/explode", explode, methods=["GET"])


def _assert_base_headers(response: httpx.Response) -> None:
    for name, value in BASE_HEADERS.items():
        assert response.headers.get(name) == value, name


class TestOnEveryResponse:
    @pytest.mark.parametrize(
        ("path", "status"),
        [
            ("/healthz", 200),
            ("/", 200),
            ("/no/such/route", 404),
            ("/metrics", 401),
            ("/auth/login", 503),
            ("/auth/callback?error=access_denied", 400),
        ],
    )
    async def test_headers_on_json_and_html_answers(self, path: str, status: int) -> None:
        async with http_client(build_app()) as http:
            response = await http.get(path)
        assert response.status_code == status
        _assert_base_headers(response)

    async def test_headers_on_a_validation_error(self) -> None:
        application = build_app()

        async def widget(widget_id: int) -> dict[str, int]:
            return {"id": widget_id}

        application.app.add_api_route("/test/widgets/{widget_id}", widget, methods=["GET"])
        async with http_client(application) as http:
            response = await http.get("/test/widgets/not-a-number")
        assert response.status_code == 422
        _assert_base_headers(response)

    async def test_unhandled_exception_gives_a_500_envelope_with_headers(self) -> None:
        application = build_app()
        _add_failing_route(application.app)
        async with http_client(application) as http:
            response = await http.get("/test/explode")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert SENTINEL not in response.text
        _assert_base_headers(response)
        assert response.headers["x-request-id"]


class TestContentSecurityPolicy:
    @pytest.mark.parametrize("path", ["/", "/auth/login", "/auth/callback?error=access_denied"])
    async def test_html_pages_get_a_strict_policy(self, path: str) -> None:
        async with http_client(build_app()) as http:
            response = await http.get(path)
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # scripts fall back to 'self'; none are inline

    async def test_json_answers_carry_no_policy(self) -> None:
        async with http_client(build_app()) as http:
            response = await http.get("/healthz")
        assert "content-security-policy" not in response.headers

    async def test_api_docs_may_load_their_bundle(self) -> None:
        async with http_client(build_app()) as http:
            response = await http.get("/docs")
        assert response.status_code == 200
        assert "https://cdn.jsdelivr.net" in response.headers["content-security-policy"]


class TestStrictTransportSecurity:
    async def test_not_sent_over_plain_http(self) -> None:
        async with http_client(build_app()) as http:
            response = await http.get("/healthz")
        assert "strict-transport-security" not in response.headers

    async def test_sent_when_the_request_came_over_https(self) -> None:
        async with http_client(build_app(), base_url="https://api.example.org") as http:
            response = await http.get("/no/such/route")
        assert response.headers["strict-transport-security"] == HSTS

    async def test_sent_when_the_public_url_is_https(self) -> None:
        application = build_app(public_base_url="https://api.example.org")
        async with http_client(application) as http:
            response = await http.get("/healthz")
        assert response.headers["strict-transport-security"] == HSTS

    async def test_forwarded_proto_counts_only_from_a_trusted_proxy(self) -> None:
        forwarded = {"X-Forwarded-Proto": "https"}
        async with http_client(build_app(), peer="10.0.0.2") as http:
            untrusted = await http.get("/healthz", headers=forwarded)
        trusting = build_app(trusted_proxies="10.0.0.0/8")
        async with http_client(trusting, peer="10.0.0.2") as http:
            trusted = await http.get("/healthz", headers=forwarded)
        assert "strict-transport-security" not in untrusted.headers
        assert trusted.headers["strict-transport-security"] == HSTS

    async def test_sent_on_a_500_over_https(self) -> None:
        application = build_app()
        _add_failing_route(application.app)
        async with http_client(application, base_url="https://api.example.org") as http:
            response = await http.get("/test/explode")
        assert response.status_code == 500
        assert response.headers["strict-transport-security"] == HSTS
