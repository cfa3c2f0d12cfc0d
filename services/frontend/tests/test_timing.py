"""Server-Timing tells the UI's own time from the time spent waiting on the API."""

from __future__ import annotations

import asyncio
import re

import httpx

from frontend.timing import ApiWaitTimer

from .conftest import browser_for, frontend_for


class TestApiWaitTimer:
    async def test_parallel_calls_count_once_and_sequential_ones_add_up(self) -> None:
        async def call(seconds: float) -> None:
            with ApiWaitTimer.call():
                await asyncio.sleep(seconds)

        token = ApiWaitTimer.start()
        try:
            await asyncio.gather(call(0.05), call(0.05), call(0.05))
            await call(0.05)
            waited = ApiWaitTimer.waited_ms()
        finally:
            ApiWaitTimer.stop(token)

        assert 95 <= waited < 145  # two rounds of 50 ms, not four

    def test_outside_a_request_nothing_is_collected(self) -> None:
        with ApiWaitTimer.call():
            pass
        assert ApiWaitTimer.waited_ms() == 0


class TestServerTimingHeader:
    async def test_a_page_reports_its_wait_on_a_slow_api(self) -> None:
        async def slow_api(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.1)
            return httpx.Response(200, json={"spotify_configured": True, "login_url": "/x"})

        async with browser_for(frontend_for(httpx.MockTransport(slow_api))) as browser:
            response = await browser.get("/login")

        timing = re.fullmatch(
            r"app;dur=([\d.]+), api;dur=([\d.]+)", response.headers["server-timing"]
        )
        assert timing is not None
        app_ms, api_ms = float(timing.group(1)), float(timing.group(2))
        assert api_ms >= 100
        assert app_ms >= api_ms
