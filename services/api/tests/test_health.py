"""Liveness, readiness and the public set-up status."""

from __future__ import annotations

import httpx

from app.main import SpotifyMCPApp
from shared.db.migrate import MigrationRunner
from testkit.plugin import FreshDatabase

from .conftest import API_BASE_URL, build_settings


class TestHealth:
    async def test_healthz_answers_without_the_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_readyz_is_ok_on_a_migrated_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": True, "migrations_at_head": True}

    async def test_readyz_is_503_before_migrations(self, fresh_database: FreshDatabase) -> None:
        database = await fresh_database(migrated=False)
        app = SpotifyMCPApp(build_settings(None), database=database).app
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=API_BASE_URL
        ) as http:
            response = await http.get("/readyz")
            assert response.status_code == 503
            assert response.json()["migrations_at_head"] is False
            await MigrationRunner(database).upgrade()
            assert (await http.get("/readyz")).status_code == 200

    async def test_readyz_is_503_when_the_database_is_unreachable(self) -> None:
        from shared.db.manager import DatabaseManager  # noqa: PLC0415

        unreachable = DatabaseManager("postgresql+asyncpg://postgres@127.0.0.1:1/none")
        app = SpotifyMCPApp(build_settings(None), database=unreachable).app
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=API_BASE_URL
        ) as http:
            response = await http.get("/readyz")
        await unreachable.dispose()
        assert response.status_code == 503
        assert response.json()["database"] is False


class TestSetupStatus:
    async def test_says_spotify_is_configured(self, client: httpx.AsyncClient) -> None:
        body = (await client.get("/status")).json()
        assert body["spotify_configured"] is True
        assert body["login_url"] == f"{API_BASE_URL}/auth/login"

    async def test_without_credentials_the_page_says_how_to_configure(
        self, fresh_database: FreshDatabase
    ) -> None:
        database = await fresh_database()
        app = SpotifyMCPApp(build_settings(None), database=database).app
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=API_BASE_URL
        ) as http:
            status = (await http.get("/status")).json()
            page = await http.get("/")
            login = await http.get("/auth/login")
        assert status["spotify_configured"] is False
        for response in (page, login):
            assert "SPOTIFY_CLIENT_ID" in response.text
            assert "127.0.0.1" in response.text
        assert login.status_code == 503


class TestErrorEnvelope:
    async def test_unknown_route_and_wrong_method_use_the_error_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        missing = await client.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.json() == {"error": {"code": "not_found", "message": "Not Found"}}
        wrong = await client.delete("/healthz")
        assert wrong.status_code == 405
        assert wrong.json()["error"]["code"] == "method_not_allowed"
        assert "allow" in wrong.headers
