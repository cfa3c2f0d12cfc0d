"""The login asks the API whether the admin's credentials are right, and never leaks them."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from pydantic import SecretStr

from frontend.api_client import AdminCredentials
from frontend.main import FrontendApp
from frontend.security.sessions import SESSION_COOKIE

from .conftest import ADMIN_PASSWORD, ADMIN_USERNAME, csrf_of, log_in


class TestLogin:
    async def test_the_right_credentials_open_the_dashboard(
        self, browser: httpx.AsyncClient
    ) -> None:
        response = await log_in(browser)

        assert response.status_code == 303
        assert response.headers["location"] == "/"
        dashboard = await browser.get("/")
        assert dashboard.status_code == 200
        assert "<h1>Dashboard</h1>" in dashboard.text
        assert ADMIN_USERNAME in dashboard.text  # who is logged in, beside "Log out"

    async def test_a_wrong_password_is_refused_with_the_form_again(
        self, browser: httpx.AsyncClient
    ) -> None:
        response = await log_in(browser, password="not-the-password")

        assert response.status_code == 401
        assert "Wrong user name or password" in response.text
        assert "not-the-password" not in response.text
        assert (await browser.get("/")).status_code == 303

    async def test_a_wrong_user_name_is_refused(self, browser: httpx.AsyncClient) -> None:
        response = await log_in(browser, username="root")

        assert response.status_code == 401
        assert (await browser.get("/users")).status_code == 303

    async def test_an_empty_form_is_refused_without_asking_the_api(
        self, browser: httpx.AsyncClient
    ) -> None:
        form = await browser.get("/login")
        response = await browser.post(
            "/login", data={"username": "", "password": "", "csrf_token": csrf_of(form.text)}
        )
        assert response.status_code == 400

    async def test_the_login_returns_to_the_page_first_asked_for(
        self, browser: httpx.AsyncClient
    ) -> None:
        first = await browser.get("/jobs?status=failed")
        form = await browser.get(first.headers["location"])
        assert 'name="next" value="/jobs?status=failed"' in form.text
        response = await browser.post(
            "/login",
            data={
                "username": ADMIN_USERNAME,
                "password": ADMIN_PASSWORD,
                "next": "/jobs?status=failed",
                "csrf_token": csrf_of(form.text),
            },
        )
        assert response.headers["location"] == "/jobs?status=failed"

    async def test_a_login_starts_a_new_session_with_a_new_csrf_token(
        self, browser: httpx.AsyncClient
    ) -> None:
        form = await browser.get("/login")
        before = csrf_of(form.text)
        await browser.post(
            "/login",
            data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "csrf_token": before},
        )
        after = csrf_of((await browser.get("/")).text)
        assert after != before

    async def test_a_logged_in_admin_skips_the_form(self, admin: httpx.AsyncClient) -> None:
        response = await admin.get("/login")
        assert response.status_code == 303
        assert response.headers["location"] == "/"


class TestLogout:
    async def test_logout_ends_the_session_and_a_replayed_cookie_is_refused(
        self, admin: httpx.AsyncClient
    ) -> None:
        old_cookie = admin.cookies[SESSION_COOKIE]
        page = await admin.get("/")

        response = await admin.post("/logout", data={"csrf_token": csrf_of(page.text)})

        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        assert (await admin.get("/")).status_code == 303
        login = await admin.get("/login")
        assert "You are logged out." in login.text
        admin.cookies.set(SESSION_COOKIE, old_cookie)
        assert (await admin.get("/")).status_code == 303


class TestCredentialsStaySecret:
    async def test_no_log_line_page_or_cookie_holds_the_password(
        self, browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        basic = base64.b64encode(f"{ADMIN_USERNAME}:{ADMIN_PASSWORD}".encode()).decode()
        pages = [await log_in(browser, password="a-wrong-password-typed")]
        pages.append(await log_in(browser))
        for path in ("/", "/users", "/jobs", "/imports", "/logs", "/analytics"):
            pages.append(await browser.get(path))

        cookie = browser.cookies[SESSION_COOKIE]
        for secret in (ADMIN_PASSWORD, basic, "a-wrong-password-typed"):
            assert secret not in caplog.text
            assert secret not in cookie
            for page in pages:
                assert secret not in page.text
                assert secret not in str(page.headers)

    async def test_a_login_the_api_stops_accepting_ends_the_session(
        self, frontend: FrontendApp, browser: httpx.AsyncClient
    ) -> None:
        # As if ADMIN_PASSWORD changed after the login: the API refuses what the cookie holds.
        stale = frontend.codec.logged_in(AdminCredentials(ADMIN_USERNAME, SecretStr("old-pw")))
        browser.cookies.set(SESSION_COOKIE, frontend.codec.encode(stale))

        response = await browser.get("/users")

        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        login = await browser.get("/login")
        assert "no longer accepts this login" in login.text
        assert (await browser.get("/users")).status_code == 303
