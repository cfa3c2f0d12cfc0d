"""Per-client and per-token request limits, counted in memory or in Redis shared by replicas."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import limits
import redis.asyncio
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response
from app.metrics import Metrics
from app.middleware.proxies import TrustedProxies
from app.settings import AppSettings

logger = logging.getLogger(__name__)

AUTH_PATHS = ("/auth/login", "/auth/callback")
# Every surface that runs a tool on a caller's behalf; add REST or GPT Actions paths here.
TOOL_PATH_PREFIXES = ("/mcp", "/gpt/tools")
# A rate-limit check must not hang a request for long when Redis stops answering.
_REDIS_TIMEOUT_SECONDS = 1.0


_FAILURES = "credential_failures"


class RateLimitKey(StrEnum):
    """Whom a rule counts requests for."""

    CLIENT_IP = "client_ip"
    BEARER = "bearer"


@dataclass(frozen=True)
class RateLimitRule:
    """A limit, the request paths it covers and whom it counts for."""

    name: str
    limit: RateLimitItem
    key: RateLimitKey
    paths: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] = ()

    def applies_to(self, path: str) -> bool:
        """True for one of the paths, or a prefix itself or anything below it."""
        return path in self.paths or any(
            path == prefix or path.startswith(f"{prefix}/") for prefix in self.path_prefixes
        )


@dataclass(frozen=True)
class RateLimitDecision:
    """Whether a request may proceed, and if not, how long the caller should wait."""

    allowed: bool
    retry_after_seconds: int = 0


def default_rules(settings: AppSettings) -> list[RateLimitRule]:
    """Logins per client IP; tool calls per bearer token."""
    return [
        RateLimitRule(
            "auth", limits.parse(settings.auth_rate_limit), RateLimitKey.CLIENT_IP, AUTH_PATHS
        ),
        RateLimitRule(
            "tools",
            limits.parse(settings.tool_rate_limit),
            RateLimitKey.BEARER,
            path_prefixes=TOOL_PATH_PREFIXES,
        ),
    ]


def _redis_url(url: str) -> str:
    """The URL redis-py understands (`limits` spells async storage `async+redis://`)."""
    return url.removeprefix("async+").replace("redis+unix://", "unix://", 1)


class RequestRateLimiter:
    """Counts requests against the rules in a moving window; fails open when storage is down."""

    def __init__(
        self,
        rules: Sequence[RateLimitRule],
        proxies: TrustedProxies,
        metrics: Metrics,
        *,
        storage_url: str = "",
        key_prefix: str = "spotify-mcp-rate-limit",
        failure_limit: RateLimitItem | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.failure_limit = failure_limit
        self._proxies = proxies
        self._metrics = metrics
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._storage_down = False
        if storage_url:
            # The pool is ours so that shutdown can close its connections.
            self._pool = redis.asyncio.ConnectionPool.from_url(
                _redis_url(storage_url),
                socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
                socket_timeout=_REDIS_TIMEOUT_SECONDS,
            )
            storage: MemoryStorage | RedisStorage = RedisStorage(
                f"async+{_redis_url(storage_url)}",
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=key_prefix,
                connection_pool=self._pool,  # type: ignore[arg-type]  # documented option
            )
        else:
            storage = MemoryStorage()
        # A moving window: "10 per minute" holds for every 60 seconds, not per clock minute.
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(
        cls, settings: AppSettings, proxies: TrustedProxies, metrics: Metrics
    ) -> RequestRateLimiter:
        """The default rules with the configured limits and storage."""
        return cls(
            default_rules(settings),
            proxies,
            metrics,
            storage_url=settings.rate_limit_storage_url,
            key_prefix=settings.rate_limit_key_prefix,
            failure_limit=limits.parse(settings.credential_failure_rate_limit),
        )

    def rule_for(self, path: str) -> RateLimitRule | None:
        """The first rule covering the path, if any."""
        return next((rule for rule in self.rules if rule.applies_to(path)), None)

    def identity(self, rule: RateLimitRule, scope: Scope) -> str:
        """Whom the request counts for; a token is reduced to its sha256, never stored."""
        if rule.key is RateLimitKey.BEARER:
            scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()
        # Calls without a token are counted per client, so they cannot bypass the limit.
        return "ip:" + self._proxies.client_ip(scope)

    async def check(self, rule: RateLimitRule, scope: Scope) -> RateLimitDecision:
        """Count the request; refused once the rule's limit is reached in the window."""
        return await self._count(rule.limit, rule.name, self.identity(rule, scope))

    async def check_failures(self, scope: Scope) -> RateLimitDecision:
        """Refused while the client has used up its allowance of rejected credentials."""
        if self.failure_limit is None:
            return RateLimitDecision(allowed=True)
        identity = "ip:" + self._proxies.client_ip(scope)
        try:
            if await self._limiter.test(self.failure_limit, _FAILURES, identity):
                return RateLimitDecision(allowed=True)
        except StorageError:
            return RateLimitDecision(allowed=True)  # fail open, as `_count` explains
        return await self._count(self.failure_limit, _FAILURES, identity)

    async def record_failure(self, scope: Scope) -> None:
        """Count one rejected credential (a 401) against the client."""
        if self.failure_limit is not None:
            await self._count(self.failure_limit, _FAILURES, "ip:" + self._proxies.client_ip(scope))

    async def _count(self, limit: RateLimitItem, name: str, identity: str) -> RateLimitDecision:
        try:
            if await self._limiter.hit(limit, name, identity):
                self._storage_recovered()
                return RateLimitDecision(allowed=True)
            stats = await self._limiter.get_window_stats(limit, name, identity)
        except StorageError as exc:
            # Fail open: limits protect against abuse, and a Redis outage must not take the
            # API down with it. One warning per outage, not one per request.
            if not self._storage_down:
                self._storage_down = True
                logger.warning(
                    "Rate-limit storage unreachable; requests are not limited until it is back",
                    extra={"error": type(exc.storage_error).__name__},
                )
            return RateLimitDecision(allowed=True)
        self._storage_recovered()
        self._metrics.rate_limited.labels(rule=name).inc()
        return RateLimitDecision(
            allowed=False, retry_after_seconds=max(1, math.ceil(stats.reset_time - time.time()))
        )

    def _storage_recovered(self) -> None:
        if self._storage_down:
            self._storage_down = False
            logger.info("Rate-limit storage reachable again")

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        if self._pool is not None:
            await self._pool.aclose()


def too_many_requests(retry_after_seconds: int) -> JSONResponse:
    """429 in the API's error envelope, saying when to come back."""
    return error_response(
        429,
        "rate_limited",
        f"Too many requests; try again in {retry_after_seconds} seconds.",
        {"Retry-After": str(retry_after_seconds)},
    )


class RateLimitMiddleware:
    """Answers 429 for requests over their rule's limit; other requests pass untouched."""

    def __init__(self, app: ASGIApp, *, limiter: RequestRateLimiter) -> None:
        self.app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request's rule, if it has one, before the route runs."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Guessing admin passwords or tool tokens: each 401 counts against the client, and
        # once the allowance is used up every request from it waits.
        decision = await self._limiter.check_failures(scope)
        rule = self._limiter.rule_for(scope["path"])
        if decision.allowed and rule is not None:
            decision = await self._limiter.check(rule, scope)
        if not decision.allowed:
            response = too_many_requests(decision.retry_after_seconds)
            await response(scope, receive, send)
            return
        status: list[int] = []

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, send_noting_status)
        if status and status[0] == 401:
            await self._limiter.record_failure(scope)

    def _closing_on_shutdown(self, send: Send) -> Send:
        # The application's lifespan belongs to the app factory; the limiter's connections
        # are closed here, just before the server is told shutdown is complete.
        async def send_after_closing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self._limiter.aclose()
            await send(message)

        return send_after_closing
