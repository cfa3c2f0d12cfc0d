"""The API's middleware: request IDs, security headers, metrics, CORS, errors, rate limits."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.metrics import HttpMetricsMiddleware, Metrics
from app.middleware.proxies import TrustedProxies
from app.middleware.rate_limit import RateLimitMiddleware, RequestRateLimiter
from app.middleware.request_id import REQUEST_ID_HEADER, RequestIdMiddleware
from app.middleware.security_headers import SecurityHeadersMiddleware
from app.middleware.unhandled_errors import UnhandledErrorMiddleware
from app.settings import AppSettings

__all__ = ["RequestRateLimiter", "install_middleware"]


def install_middleware(app: FastAPI, settings: AppSettings, metrics: Metrics) -> RequestRateLimiter:
    """Install the stack, outermost first as listed below; returns the rate limiter.

    1. request ID: bound before anything can log, echoed on every response;
    2. security headers: on every response, including the 500s and 429s made further in;
    3. metrics: sees the final status of every request;
    4. CORS: answers preflights before they count against a limit, and lets browsers read
       error responses;
    5. unhandled errors: the 500 envelope, still inside all of the above;
    6. rate limits: refuse before any route or database work.
    """
    proxies = TrustedProxies(settings.trusted_proxies)
    limiter = RequestRateLimiter.from_settings(settings, proxies, metrics)
    docs_paths = {
        path
        for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
        if path is not None
    }
    # Starlette puts each added middleware outside the ones added before it.
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        # Credentials travel in the Authorization header, never in cookies across origins.
        allow_credentials=False,
    )
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    app.add_middleware(
        SecurityHeadersMiddleware,
        proxies=proxies,
        always_https=settings.public_base_url.startswith("https://"),
        docs_paths=docs_paths,
    )
    app.add_middleware(RequestIdMiddleware)
    return limiter
