"""AdminAuthProvider: Bearer token or Basic user and password, never silently off."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from app.admin.auth import AdminAuthProvider

from .conftest import build_settings


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def provider() -> AdminAuthProvider:
    return AdminAuthProvider(
        build_settings(
            None,
            admin_token=SecretStr("the-admin-token"),
            admin_username="root",
            admin_password=SecretStr("the-password"),
        )
    )


class TestAdminAuthProvider:
    @pytest.mark.parametrize(
        ("header", "method"),
        [
            ("Bearer the-admin-token", "bearer"),
            ("bearer the-admin-token", "bearer"),
            (_basic("root", "the-password"), "basic"),
        ],
    )
    def test_accepts_the_configured_credentials(
        self, provider: AdminAuthProvider, header: str, method: str
    ) -> None:
        principal = provider.authenticate(header)
        assert principal is not None
        assert principal.method == method

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "Bearer the-admin-token-but-longer",
            "Bearer",
            _basic("admin", "the-password"),
            _basic("root", "wrong"),
            _basic("root", ""),
            "Basic cm9vdA==",  # "root" without a colon
            "Basic %%%",
            "Digest the-admin-token",
        ],
    )
    def test_refuses_anything_else(self, provider: AdminAuthProvider, header: str | None) -> None:
        assert provider.authenticate(header) is None

    def test_with_no_secrets_configured_nothing_is_accepted(self) -> None:
        bare = AdminAuthProvider(build_settings(None, admin_token=None, admin_password=None))
        assert bare.authenticate("Bearer ") is None
        assert bare.authenticate("Bearer None") is None
        assert bare.authenticate(_basic("admin", "")) is None
