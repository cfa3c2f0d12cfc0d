"""Every admin and history route refuses requests without valid admin credentials.

The routes are read from the app itself, so a route added later is covered automatically.
"""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from app.main import SpotifyMCPApp

PROTECTED_PREFIXES = ("/admin", "/history", "/metrics")

WRONG_CREDENTIALS = [
    {},
    {"Authorization": "Bearer not-the-admin-token"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic " + base64.b64encode(b"admin:wrong-password").decode()},
    {"Authorization": "Basic not-base64!"},
    {"Authorization": "Token test-admin-token-0123456789"},
]


def _protected_routes(app: SpotifyMCPApp) -> list[tuple[str, str]]:
    """(method, path) of every route under a protected prefix, included routers flattened."""
    routes: list[tuple[str, str]] = []
    for context in iter_route_contexts(app.app.routes):
        template = context.path or ""
        if template.startswith(PROTECTED_PREFIXES) and context.methods:
            path = re.sub(r"\{[^}]+\}", "1", template)
            routes.extend((method, path) for method in sorted(context.methods))
    return routes


class TestProtectedRoutes:
    async def test_every_protected_route_answers_401_without_valid_credentials(
        self, api: SpotifyMCPApp, client: httpx.AsyncClient
    ) -> None:
        routes = _protected_routes(api)
        assert len(routes) >= 15, routes  # the admin and history routers are mounted
        for method, path in routes:
            for headers in WRONG_CREDENTIALS:
                response = await client.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert "WWW-Authenticate" in response.headers
                assert response.json()["error"]["code"] == "unauthorized"

    @pytest.mark.parametrize("prefix", PROTECTED_PREFIXES)
    async def test_each_prefix_has_routes(self, api: SpotifyMCPApp, prefix: str) -> None:
        assert any(path.startswith(prefix) for _, path in _protected_routes(api))
