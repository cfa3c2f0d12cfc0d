"""`AdminApiClient`: Basic auth with the admin's credentials, and the API's errors by kind."""

from __future__ import annotations

import base64

import httpx
import pytest
from pydantic import SecretStr

from frontend.api_client import (
    AdminApiClient,
    AdminCredentials,
    ApiAuthenticationError,
    ApiError,
    ApiNotFoundError,
    ApiUnavailableError,
    StatusCache,
)

CREDENTIALS = AdminCredentials("admin", SecretStr("s3cret:with-colon"))


def _client(handler: httpx.MockTransport) -> AdminApiClient:
    return AdminApiClient("http://api.test", transport=handler)


class TestAuthHeaders:
    def test_basic_auth_carries_the_admins_credentials(self) -> None:
        headers = AdminApiClient.build_auth_headers(CREDENTIALS)
        scheme, _, value = headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(value).decode() == "admin:s3cret:with-colon"

    def test_no_credentials_no_header(self) -> None:
        assert AdminApiClient.build_auth_headers(None) == {}

    async def test_acting_for_an_admin_sends_their_credentials_and_client_address(self) -> None:
        seen: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"items": [], "total": 0, "limit": 1, "offset": 0})

        root = _client(httpx.MockTransport(answer))
        await root.acting_for(CREDENTIALS, client_address="10.1.2.3").list_users(limit=1)
        await root.status()

        assert seen[0].headers["authorization"].startswith("Basic ")
        assert seen[0].headers["x-forwarded-for"] == "10.1.2.3"
        assert "authorization" not in seen[1].headers  # the shared root stays anonymous

    async def test_blank_filters_are_not_sent(self) -> None:
        seen: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"items": [], "total": 0, "limit": 5, "offset": 0})

        await _client(httpx.MockTransport(answer)).list_jobs(status=None, job_type="", limit=5)
        assert dict(seen[0].url.params) == {"limit": "5"}


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "error_type"),
        [
            (401, ApiAuthenticationError),
            (404, ApiNotFoundError),
            (409, ApiError),
            (500, ApiUnavailableError),
            (503, ApiUnavailableError),
        ],
    )
    async def test_each_status_becomes_its_error_with_the_apis_message(
        self, status: int, error_type: type[ApiError]
    ) -> None:
        def answer(_request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                status, json={"error": {"code": "some_code", "message": "What went wrong."}}
            )

        with pytest.raises(error_type) as caught:
            await _client(httpx.MockTransport(answer)).get_user(1)
        assert caught.type is error_type
        assert (caught.value.status_code, caught.value.code) == (status, "some_code")
        assert caught.value.message == "What went wrong."

    async def test_an_unreachable_api_is_unavailable(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        with pytest.raises(ApiUnavailableError, match="not reachable"):
            await _client(httpx.MockTransport(refuse)).status()

    async def test_a_body_without_the_envelope_still_gives_an_error(self) -> None:
        def answer(_request: httpx.Request) -> httpx.Response:
            return httpx.Response(418, text="<html>teapot</html>")

        with pytest.raises(ApiError, match="the API answered 418"):
            await _client(httpx.MockTransport(answer)).status()

    async def test_verify_credentials_is_false_on_401_and_true_on_200(self) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            good = AdminApiClient.build_auth_headers(CREDENTIALS)["Authorization"]
            if request.headers.get("authorization") == good:
                return httpx.Response(200, json={"items": [], "total": 0, "limit": 1, "offset": 0})
            return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "no"}})

        client = _client(httpx.MockTransport(answer))
        assert await client.verify_credentials(CREDENTIALS) is True
        wrong = AdminCredentials("admin", SecretStr("nope"))
        assert await client.verify_credentials(wrong) is False


class TestStatusCache:
    async def test_the_public_status_is_asked_once_within_its_lifetime(self) -> None:
        seen: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"spotify_configured": True})

        root = _client(httpx.MockTransport(answer))
        first = await root.status()
        first["spotify_configured"] = False  # a caller changing its copy changes nothing
        second = await root.acting_for(CREDENTIALS).status()

        assert second == {"spotify_configured": True}
        assert len(seen) == 1

    async def test_an_expired_status_is_asked_again(self) -> None:
        seen: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"n": len(seen)})

        client = AdminApiClient(
            "http://api.test",
            transport=httpx.MockTransport(answer),
            status_cache=StatusCache(ttl_seconds=0),
        )
        assert (await client.status())["n"] == 1
        assert (await client.status())["n"] == 2
