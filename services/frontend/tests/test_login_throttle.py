"""Password guessing at the login form is braked per browser, before the API is asked."""

from __future__ import annotations

import httpx

from frontend.security.throttle import LoginThrottle

from .conftest import log_in


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestLoginThrottle:
    def test_the_limit_blocks_until_the_oldest_failure_leaves_the_window(self) -> None:
        clock = FakeClock()
        throttle = LoginThrottle(max_failures=3, window_seconds=60, clock=clock)
        for _ in range(3):
            assert throttle.retry_after("10.0.0.1") is None
            throttle.record_failure("10.0.0.1")
            clock.now += 10  # failures at 1000, 1010 and 1020

        assert throttle.retry_after("10.0.0.1") == 30  # at 1030, until 1000 + 60
        assert throttle.retry_after("10.0.0.2") is None  # another browser is unaffected
        clock.now = 1060.5
        assert throttle.retry_after("10.0.0.1") is None

    def test_a_successful_login_clears_the_count(self) -> None:
        throttle = LoginThrottle(max_failures=2, clock=FakeClock())
        throttle.record_failure("10.0.0.1")
        throttle.forget("10.0.0.1")
        throttle.record_failure("10.0.0.1")
        assert throttle.retry_after("10.0.0.1") is None

    def test_memory_stays_bounded_under_many_addresses(self) -> None:
        throttle = LoginThrottle(max_failures=1, clock=FakeClock())
        for n in range(10_050):
            throttle.record_failure(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
        assert len(throttle._failures) <= 10_000


class TestLoginFormBrake:
    async def test_after_ten_wrong_passwords_even_the_right_one_waits(
        self, browser: httpx.AsyncClient
    ) -> None:
        for _ in range(10):
            assert (await log_in(browser, password="guess")).status_code == 401

        response = await log_in(browser)

        assert response.status_code == 429
        assert "Too many failed logins" in response.text
        assert (await browser.get("/")).status_code == 303
