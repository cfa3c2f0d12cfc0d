"""CORS: the configured origins may call the API; others, and `*`, may not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import AppSettings

from .conftest import build_app, http_client

ADMIN_UI = "http://127.0.0.1:8001"
ELSEWHERE = "https://evil.example"


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


class TestCors:
    async def test_the_admin_ui_origin_is_allowed_by_default(self) -> None:
        async with http_client(build_app()) as http:
            response = await http.get("/healthz", headers={"Origin": ADMIN_UI})
            preflight = await http.options("/admin/users", headers=_preflight(ADMIN_UI))
        assert response.headers["access-control-allow-origin"] == ADMIN_UI
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ADMIN_UI
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["x-content-type-options"] == "nosniff"

    async def test_other_origins_are_refused(self) -> None:
        async with http_client(build_app()) as http:
            response = await http.get("/healthz", headers={"Origin": ELSEWHERE})
            preflight = await http.options("/admin/users", headers=_preflight(ELSEWHERE))
        assert "access-control-allow-origin" not in response.headers
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers

    async def test_configured_origins_replace_the_defaults(self) -> None:
        application = build_app(cors_allowed_origins="https://admin.example, https://b.example")
        async with http_client(application) as http:
            configured = await http.get("/healthz", headers={"Origin": "https://b.example"})
            default = await http.get("/healthz", headers={"Origin": ADMIN_UI})
        assert configured.headers["access-control-allow-origin"] == "https://b.example"
        assert "access-control-allow-origin" not in default.headers


class TestAllowedOriginsSetting:
    def test_comma_separated_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, http://127.0.0.1:9000,")
        settings = AppSettings(_env_file=None)
        assert settings.cors_allowed_origins == ["https://a.example", "http://127.0.0.1:9000"]

    def test_default_is_the_local_admin_ui(self) -> None:
        assert AppSettings(_env_file=None).cors_allowed_origins == [
            "http://localhost:8001",
            "http://127.0.0.1:8001",
        ]

    @pytest.mark.parametrize("value", ["*", "https://a.example,*", "https://*.example"])
    def test_a_wildcard_is_refused_at_load(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", value)
        with pytest.raises(ValidationError, match=r"CORS_ALLOWED_ORIGINS .*`\*` is refused"):
            AppSettings(_env_file=None)

    @pytest.mark.parametrize("value", ["admin.example", "https://a.example/", "ftp://a.example"])
    def test_something_that_is_not_an_origin_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", value)
        with pytest.raises(ValidationError, match="is not an origin"):
            AppSettings(_env_file=None)
