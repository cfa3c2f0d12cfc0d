"""Rate limits: per client IP on the OAuth routes, per token on tool calls, shared via Redis."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_network

import httpx
import pytest
import redis.asyncio
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

from app.main import SpotifyMCPApp
from app.middleware.proxies import TrustedProxies
from app.settings import AppSettings

from .conftest import ADMIN, build_app, http_client

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN_A = "tool-token-a-0123456789abcdef"
TOKEN_B = "tool-token-b-0123456789abcdef"
STAND_IN = "/mcp/stand-in-call"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _with_tool_route(application: SpotifyMCPApp) -> SpotifyMCPApp:
    """A stand-in under /mcp: the limit is by path, and this one needs no database."""

    async def call_tool() -> dict[str, str]:
        return {"result": "ok"}

    application.app.add_api_route(STAND_IN, call_tool, methods=["POST"])
    return application


async def _statuses(
    http: httpx.AsyncClient, path: str, count: int, headers: dict[str, str] | None = None
) -> list[int]:
    return [(await http.get(path, headers=headers)).status_code for _ in range(count)]


def _assert_too_many_requests(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert response.json()["error"]["code"] == "rate_limited"
    assert response.headers["x-content-type-options"] == "nosniff"


class TestLoginLimit:
    async def test_the_eleventh_login_within_a_minute_gets_429(
        self, client: httpx.AsyncClient
    ) -> None:
        for _ in range(10):
            assert (await client.get("/auth/login")).status_code == 303
        _assert_too_many_requests(await client.get("/auth/login"))

    async def test_login_and_callback_share_one_count_per_client(self) -> None:
        async with http_client(build_app()) as http:
            assert 429 not in await _statuses(http, "/auth/login", 5)
            assert 429 not in await _statuses(http, "/auth/callback", 5)
            _assert_too_many_requests(await http.get("/auth/callback"))
            _assert_too_many_requests(await http.get("/auth/login"))
            assert (await http.get("/healthz")).status_code == 200

    async def test_each_client_address_has_its_own_count(self) -> None:
        application = build_app()
        async with http_client(application, peer="198.51.100.1") as first:
            assert 429 not in await _statuses(first, "/auth/login", 10)
            assert (await first.get("/auth/login")).status_code == 429
        async with http_client(application, peer="198.51.100.2") as second:
            assert (await second.get("/auth/login")).status_code != 429

    async def test_forwarded_for_is_ignored_from_an_untrusted_peer(self) -> None:
        async with http_client(build_app(), peer="203.0.113.9") as http:
            for n in range(10):
                forged = {"X-Forwarded-For": f"192.0.2.{n}"}
                assert (await http.get("/auth/login", headers=forged)).status_code != 429
            forged = {"X-Forwarded-For": "192.0.2.99"}
            _assert_too_many_requests(await http.get("/auth/login", headers=forged))

    async def test_forwarded_for_names_the_client_behind_a_trusted_proxy(self) -> None:
        application = build_app(trusted_proxies="10.0.0.0/8")
        alice = {"X-Forwarded-For": "198.51.100.7"}
        # What a client can prepend itself does not change whom the proxy saw.
        alice_spoofing = {"X-Forwarded-For": "192.0.2.1, 198.51.100.7"}
        bob = {"X-Forwarded-For": "198.51.100.8"}
        async with http_client(application, peer="10.0.0.2") as proxy:
            assert 429 not in await _statuses(proxy, "/auth/login", 10, headers=alice)
            _assert_too_many_requests(await proxy.get("/auth/login", headers=alice_spoofing))
            assert (await proxy.get("/auth/login", headers=bob)).status_code != 429


class TestClientAddress:
    proxies = TrustedProxies([ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")])

    @pytest.mark.parametrize(
        ("peer", "forwarded_for", "client"),
        [
            ("198.51.100.1", "192.0.2.1", "198.51.100.1"),
            ("10.0.0.2", None, "10.0.0.2"),
            ("10.0.0.2", "192.0.2.1", "192.0.2.1"),
            ("10.0.0.2", "192.0.2.66, 192.0.2.1, 10.0.0.9", "192.0.2.1"),
            ("10.0.0.2", "10.0.0.7, 10.0.0.9", "10.0.0.7"),
            ("10.0.0.2", "not-an-address, 10.0.0.9", "10.0.0.9"),
            ("2001:db8::1", "2001:db9::5", "2001:db9::5"),
        ],
    )
    def test_right_most_untrusted_hop(
        self, peer: str, forwarded_for: str | None, client: str
    ) -> None:
        headers = [] if forwarded_for is None else [(b"x-forwarded-for", forwarded_for.encode())]
        scope = {"type": "http", "client": (peer, 1234), "headers": headers}
        assert self.proxies.client_ip(scope) == client


class TestToolLimit:
    async def test_sixty_calls_a_minute_per_token(self) -> None:
        async with http_client(_with_tool_route(build_app())) as http:
            for _ in range(60):
                assert (await http.post(STAND_IN, headers=_bearer(TOKEN_A))).status_code == 200
            _assert_too_many_requests(await http.post(STAND_IN, headers=_bearer(TOKEN_A)))
            assert (await http.post(STAND_IN, headers=_bearer(TOKEN_B))).status_code == 200

    async def test_calls_without_a_token_are_counted_per_client(self) -> None:
        application = _with_tool_route(build_app(tool_rate_limit="2/minute"))
        async with http_client(application) as http:
            assert [(await http.post(STAND_IN)).status_code for _ in range(3)] == [200, 200, 429]

    async def test_the_rule_covers_every_mcp_path(self) -> None:
        application = build_app(tool_rate_limit="1/minute")
        async with http_client(application) as http:
            assert (await http.get("/mcp/x/y", headers=_bearer(TOKEN_A))).status_code == 404
            assert (await http.get("/mcp", headers=_bearer(TOKEN_A))).status_code == 429
            assert (await http.get("/mcpx", headers=_bearer(TOKEN_A))).status_code == 404

    def test_the_token_is_counted_by_its_hash(self) -> None:
        limiter = build_app().rate_limiter
        rule = limiter.rule_for("/mcp/call")
        assert rule is not None
        scope = {
            "type": "http",
            "client": ("127.0.0.1", 1),
            "headers": [(b"authorization", f"Bearer {TOKEN_A}".encode())],
        }
        identity = limiter.identity(rule, scope)
        assert TOKEN_A not in identity
        assert identity == "token:" + hashlib.sha256(TOKEN_A.encode()).hexdigest()


@dataclass
class RedisNamespace:
    """A key prefix of the test's own in the test Redis."""

    client: redis.asyncio.Redis
    prefix: str

    async def keys(self) -> list[str]:
        """Every key under the prefix."""
        return [key.decode() async for key in self.client.scan_iter(match=f"{self.prefix}:*")]


@pytest.fixture
async def redis_namespace() -> AsyncIterator[RedisNamespace]:
    """A unique prefix, its keys deleted afterwards; Redis is required when CI=true."""
    client = redis.asyncio.Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except RedisConnectionError:
        await client.aclose()
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"Redis at {TEST_REDIS_URL} is required when CI=true", pytrace=False)
        pytest.skip(f"Redis is not reachable at {TEST_REDIS_URL} (set TEST_REDIS_URL)")
    namespace = RedisNamespace(client, f"test-rate-limit-{uuid.uuid4().hex}")
    try:
        yield namespace
    finally:
        if keys := await namespace.keys():
            await client.delete(*keys)
        await client.aclose()


class TestRedisStorage:
    async def test_two_app_instances_share_one_count(self, redis_namespace: RedisNamespace) -> None:
        replicas = [
            build_app(
                rate_limit_storage_url=TEST_REDIS_URL,
                rate_limit_key_prefix=redis_namespace.prefix,
            )
            for _ in range(2)
        ]
        try:
            async with http_client(replicas[0]) as first, http_client(replicas[1]) as second:
                assert 429 not in await _statuses(first, "/auth/login", 5)
                assert 429 not in await _statuses(second, "/auth/login", 5)
                _assert_too_many_requests(await first.get("/auth/login"))
                _assert_too_many_requests(await second.get("/auth/login"))
            assert await redis_namespace.keys()
        finally:
            for replica in replicas:
                await replica.rate_limiter.aclose()

    async def test_tokens_are_stored_only_as_hashes(self, redis_namespace: RedisNamespace) -> None:
        application = _with_tool_route(
            build_app(
                rate_limit_storage_url=TEST_REDIS_URL,
                rate_limit_key_prefix=redis_namespace.prefix,
            )
        )
        try:
            async with http_client(application) as http:
                assert (await http.post(STAND_IN, headers=_bearer(TOKEN_A))).status_code == 200
        finally:
            await application.rate_limiter.aclose()
        keys = await redis_namespace.keys()
        assert keys
        assert all(TOKEN_A not in key for key in keys)
        assert any(hashlib.sha256(TOKEN_A.encode()).hexdigest() in key for key in keys)

    async def test_unreachable_redis_lets_requests_through_with_one_warning(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Nothing listens on port 1: every check fails at once.
        application = build_app(rate_limit_storage_url="redis://127.0.0.1:1/0")
        caplog.set_level(logging.WARNING, logger="app.middleware.rate_limit")
        try:
            async with http_client(application) as http:
                assert 429 not in await _statuses(http, "/auth/login", 12)
        finally:
            await application.rate_limiter.aclose()
        warnings = [r for r in caplog.records if r.name == "app.middleware.rate_limit"]
        assert len(warnings) == 1
        assert warnings[0].levelno == logging.WARNING


class TestRateLimitSettings:
    def test_defaults(self) -> None:
        settings = AppSettings(_env_file=None)
        assert settings.auth_rate_limit == "10/minute"
        assert settings.tool_rate_limit == "60/minute"
        assert settings.rate_limit_storage_url == ""
        assert settings.trusted_proxies == []

    @pytest.mark.parametrize(
        ("variable", "value", "message"),
        [
            ("AUTH_RATE_LIMIT", "ten a minute", "not a rate limit"),
            ("TOOL_RATE_LIMIT", "60/fortnight", "not a rate limit"),
            ("RATE_LIMIT_STORAGE_URL", "memcached://127.0.0.1", "redis://"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.local", "TRUSTED_PROXIES"),
        ],
    )
    def test_bad_values_are_refused_at_load(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
    ) -> None:
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValidationError, match=message):
            AppSettings(_env_file=None)


class TestCredentialFailures:
    async def test_guessing_admin_credentials_is_slowed_down(self) -> None:
        application = build_app(credential_failure_rate_limit="3/minute")
        async with http_client(application, peer="198.51.100.7") as guesser:
            codes = [
                (
                    await guesser.get("/admin/users", headers={"Authorization": f"Bearer g{n}"})
                ).status_code
                for n in range(5)
            ]
            # The right token is refused too while the client waits.
            blocked = await guesser.get("/admin/users", headers=ADMIN)
        assert codes == [401, 401, 401, 429, 429]
        assert blocked.status_code == 429
        assert "Retry-After" in blocked.headers
        async with http_client(application, peer="198.51.100.8") as someone_else:
            response = await someone_else.get("/healthz")
        assert response.status_code == 200
