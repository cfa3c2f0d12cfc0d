"""No page without a login; no state change without the CSRF token; a hardened session cookie."""

from __future__ import annotations

import base64
import re
import time

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr

from frontend.api_client import AdminCredentials
from frontend.main import FrontendApp
from frontend.security.middleware import PUBLIC_PATHS, safe_next
from frontend.security.sessions import SESSION_COOKIE, AdminSession, SessionCodec

from .conftest import SECRET_KEY, browser_for, build_frontend_settings, frontend_for

SAMPLE_PATH_VALUES = {"chart": "heatmap"}


class RecordingApi(httpx.AsyncBaseTransport):
    """An API stand-in that records every request and answers 503: the gate must not call it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Record the request; answer that the API is down."""
        self.requests.append(request)
        return httpx.Response(503, json={"error": {"code": "down", "message": "down"}})


def gated_routes(frontend: FrontendApp) -> list[tuple[str, str, str]]:
    """(method, template path, concrete path) of every route that needs a session."""
    found: list[tuple[str, str, str]] = []
    for context in iter_route_contexts(frontend.app.routes):
        path = context.path or ""
        if not context.methods or not path or path in PUBLIC_PATHS:
            continue  # the static files' mount is public on purpose
        concrete = re.sub(
            r"\{(\w+)\}", lambda match: SAMPLE_PATH_VALUES.get(match.group(1), "1"), path
        )
        found.extend((method, path, concrete) for method in sorted(context.methods))
    return found


def session_cookie(frontend: FrontendApp, session: AdminSession) -> dict[str, str]:
    """A cookie header value carrying `session`, signed with the frontend's key."""
    return {SESSION_COOKIE: frontend.codec.encode(session)}


def logged_in_session(frontend: FrontendApp) -> AdminSession:
    """A valid logged-in session, made without asking the API (for gate and CSRF checks)."""
    return frontend.codec.logged_in(AdminCredentials("admin", SecretStr("whatever-password")))


@pytest.fixture
def recording_api() -> RecordingApi:
    """The API stand-in of this test."""
    return RecordingApi()


@pytest.fixture
def gated_frontend(recording_api: RecordingApi) -> FrontendApp:
    """A frontend whose API records calls instead of answering them."""
    return frontend_for(recording_api)


class TestEveryRouteNeedsALogin:
    def test_the_enumeration_covers_every_page_and_partial(
        self, gated_frontend: FrontendApp
    ) -> None:
        paths = {path for _method, path, _concrete in gated_routes(gated_frontend)}
        assert {
            "/",
            "/partials/dashboard",
            "/users",
            "/users/{user_id}",
            "/jobs",
            "/imports",
            "/imports/{import_id}",
            "/partials/imports",
            "/partials/imports/{import_id}/progress",
            "/logs",
            "/partials/logs",
            "/analytics",
            "/analytics/{user_id}",
            "/partials/analytics/{user_id}/{chart}",
            "/logout",
        } <= paths

    async def test_without_a_session_every_route_redirects_to_the_login(
        self, gated_frontend: FrontendApp, recording_api: RecordingApi
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            for method, _path, concrete in gated_routes(gated_frontend):
                response = await browser.request(method, concrete)
                assert response.status_code == 303, (method, concrete, response.status_code)
                assert response.headers["location"].startswith("/login"), (method, concrete)
        assert recording_api.requests == []

    async def test_without_a_session_every_htmx_request_is_sent_to_the_login(
        self, gated_frontend: FrontendApp, recording_api: RecordingApi
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            for method, _path, concrete in gated_routes(gated_frontend):
                response = await browser.request(method, concrete, headers={"HX-Request": "true"})
                assert response.status_code == 401, (method, concrete)
                assert response.headers["hx-redirect"].startswith("/login"), (method, concrete)
                assert response.text == ""
        assert recording_api.requests == []

    async def test_a_page_remembers_where_to_return_after_the_login(
        self, gated_frontend: FrontendApp
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            response = await browser.get("/logs?level=ERROR")
        assert response.headers["location"] == "/login?next=/logs%3Flevel%3DERROR"

    @pytest.mark.parametrize(
        "cookie",
        [
            "not-a-session",
            # Signed with another key: a forged session.
            SessionCodec(SecretStr("some-other-key"), max_age_seconds=3600).encode(
                SessionCodec(SecretStr("some-other-key"), max_age_seconds=3600).logged_in(
                    AdminCredentials("admin", SecretStr("x"))
                )
            ),
        ],
    )
    async def test_a_forged_cookie_is_refused_and_deleted(
        self, gated_frontend: FrontendApp, cookie: str
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            browser.cookies.set(SESSION_COOKIE, cookie)
            response = await browser.get("/")
        assert response.status_code == 303
        assert f"{SESSION_COOKIE}=;" in response.headers["set-cookie"]
        assert "Max-Age=0" in response.headers["set-cookie"]

    async def test_an_anonymous_session_is_not_a_login(self, gated_frontend: FrontendApp) -> None:
        async with browser_for(gated_frontend) as browser:
            browser.cookies.update(session_cookie(gated_frontend, AdminSession.anonymous()))
            response = await browser.get("/users")
        assert response.status_code == 303

    async def test_a_login_older_than_the_maximum_age_is_refused(self) -> None:
        frontend = frontend_for(RecordingApi(), frontend_session_max_age_seconds=300)
        old = frontend.codec.logged_in(
            AdminCredentials("admin", SecretStr("x")), now=time.time() - 301
        )
        async with browser_for(frontend) as browser:
            browser.cookies.update(session_cookie(frontend, old))
            response = await browser.get("/")
        assert response.status_code == 303

    def test_the_public_paths_are_only_login_and_health(self) -> None:
        assert frozenset({"/login", "/healthz"}) == PUBLIC_PATHS


class TestCsrf:
    async def test_every_post_without_the_token_is_refused_before_the_api(
        self, gated_frontend: FrontendApp, recording_api: RecordingApi
    ) -> None:
        posts = [
            concrete for method, _p, concrete in gated_routes(gated_frontend) if method == "POST"
        ]
        assert len(posts) >= 10
        async with browser_for(gated_frontend) as browser:
            browser.cookies.update(
                session_cookie(gated_frontend, logged_in_session(gated_frontend))
            )
            for path in posts:
                response = await browser.post(path, data={"name": "x", "confirm": "yes"})
                assert response.status_code == 403, (path, response.status_code)
                assert "security token" in response.text
        assert recording_api.requests == []

    async def test_every_post_with_a_wrong_token_is_refused_form_or_header(
        self, gated_frontend: FrontendApp, recording_api: RecordingApi
    ) -> None:
        posts = [
            concrete for method, _p, concrete in gated_routes(gated_frontend) if method == "POST"
        ]
        other = AdminSession.anonymous().csrf_token
        async with browser_for(gated_frontend) as browser:
            browser.cookies.update(
                session_cookie(gated_frontend, logged_in_session(gated_frontend))
            )
            for path in posts:
                by_form = await browser.post(path, data={"csrf_token": other})
                by_header = await browser.post(
                    path, headers={"X-CSRF-Token": other, "HX-Request": "true"}
                )
                assert (by_form.status_code, by_header.status_code) == (403, 403), path
        assert recording_api.requests == []

    async def test_a_multipart_upload_without_the_token_is_refused(
        self, gated_frontend: FrontendApp, recording_api: RecordingApi
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            browser.cookies.update(
                session_cookie(gated_frontend, logged_in_session(gated_frontend))
            )
            response = await browser.post(
                "/users/1/imports", files={"file": ("a.zip", b"PK\x05\x06" + b"\0" * 18)}
            )
        assert response.status_code == 403
        assert recording_api.requests == []

    async def test_the_token_in_the_header_is_accepted(self, gated_frontend: FrontendApp) -> None:
        session = logged_in_session(gated_frontend)
        async with browser_for(gated_frontend) as browser:
            browser.cookies.update(session_cookie(gated_frontend, session))
            response = await browser.post(
                "/logout", headers={"X-CSRF-Token": session.csrf_token, "HX-Request": "true"}
            )
        assert response.status_code == 303
        assert response.headers["location"] == "/login"

    async def test_a_login_post_without_the_token_starts_over(
        self, gated_frontend: FrontendApp, recording_api: RecordingApi
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            response = await browser.post("/login", data={"username": "admin", "password": "pw"})
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        assert recording_api.requests == []  # the password never reached the API


class TestHeaders:
    async def test_every_response_carries_a_strict_content_security_policy(
        self, gated_frontend: FrontendApp
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            for path in ("/login", "/healthz", "/", "/nowhere"):
                response = await browser.get(path)
                policy = response.headers["content-security-policy"]
                assert "script-src 'self';" in policy, path
                assert "unsafe-inline" not in policy
                assert "unsafe-eval" not in policy
                assert "frame-ancestors 'none'" in policy
                assert response.headers["x-frame-options"] == "DENY"
                assert response.headers["x-content-type-options"] == "nosniff"

    async def test_pages_are_not_cached(self, gated_frontend: FrontendApp) -> None:
        async with browser_for(gated_frontend) as browser:
            response = await browser.get("/login")
        assert response.headers["cache-control"] == "no-store"

    async def test_the_server_time_is_reported(self, gated_frontend: FrontendApp) -> None:
        async with browser_for(gated_frontend) as browser:
            response = await browser.get("/login")
        assert re.fullmatch(r"app;dur=\d+\.\d, api;dur=\d+\.\d", response.headers["server-timing"])


class TestSessionCookie:
    async def test_the_login_form_cookie_is_http_only_and_same_site_lax(
        self, gated_frontend: FrontendApp
    ) -> None:
        async with browser_for(gated_frontend) as browser:
            response = await browser.get("/login")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "; HttpOnly" in cookie
        assert "; SameSite=Lax" in cookie
        assert "; Path=/" in cookie
        assert "Secure" not in cookie  # plain http on 127.0.0.1

    async def test_the_cookie_is_secure_when_the_ui_is_served_over_https(self) -> None:
        frontend = frontend_for(RecordingApi(), frontend_base_url="https://admin.example.org")
        async with browser_for(frontend) as browser:
            response = await browser.get("/login")
        assert "; Secure" in response.headers["set-cookie"]
        assert response.headers["strict-transport-security"].startswith("max-age=")

    def test_the_credentials_inside_are_encrypted_not_just_signed(self) -> None:
        codec = SessionCodec(SecretStr(SECRET_KEY), max_age_seconds=3600)
        password = "a-password-nobody-may-read"
        cookie = codec.encode(codec.logged_in(AdminCredentials("admin", SecretStr(password))))
        decoded = base64.urlsafe_b64decode(cookie.split(".")[0] + "==")
        assert password.encode() not in decoded
        assert password not in cookie
        session = codec.decode(cookie)
        assert session is not None
        assert session.sealed_credentials is not None
        unsealed = codec.unseal(session.sealed_credentials)
        assert unsealed is not None
        assert unsealed.password.get_secret_value() == password

    def test_a_login_lasts_eight_hours_by_default(self) -> None:
        assert build_frontend_settings().frontend_session_max_age_seconds == 8 * 3600

    def test_credentials_repr_hides_the_password(self) -> None:
        credentials = AdminCredentials("admin", SecretStr("hidden-value"))
        assert "hidden-value" not in repr(credentials)

    def test_the_frontend_refuses_to_start_in_production_without_a_secret_key(self) -> None:
        with pytest.raises(ValueError, match="SECRET_KEY"):
            build_frontend_settings(app_env="production", secret_key=None)


class TestSafeNext:
    @pytest.mark.parametrize(
        ("target", "expected"),
        [
            ("/users/3", "/users/3"),
            ("/logs?level=ERROR", "/logs?level=ERROR"),
            ("//evil.example/x", "/"),
            ("https://evil.example/", "/"),
            ("/\\evil.example", "/"),
            ("users", "/"),
            ("/login", "/"),
            (None, "/"),
        ],
    )
    def test_only_local_paths_are_followed(self, target: str | None, expected: str) -> None:
        assert safe_next(target) == expected
