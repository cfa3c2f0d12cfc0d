"""A brake on password guessing at the login form, before the API is asked."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED_ADDRESSES = 10_000


class LoginThrottle:
    """Counts failed logins per client address over a sliding window; past the limit, no tries.

    The API limits rejected credentials per client address too, and the frontend is one
    address to it: without this brake, one browser guessing passwords could lock every
    admin out of the API for a while.
    """

    def __init__(
        self,
        *,
        max_failures: int = 10,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        horizon = self._clock() - self.window_seconds
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
        return failures

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None when it may try now."""
        failures = self._recent(address)
        if len(failures) < self.max_failures:
            return None
        return max(failures[0] + self.window_seconds - self._clock(), 0.0)

    def record_failure(self, address: str) -> None:
        """Count one failed login from `address`."""
        failures = self._recent(address)
        if address not in self._failures and len(self._failures) >= MAX_TRACKED_ADDRESSES:
            self._failures.pop(next(iter(self._failures)))  # forget the oldest address
        failures.append(self._clock())
        self._failures[address] = failures

    def forget(self, address: str) -> None:
        """A successful login clears the address's failures."""
        self._failures.pop(address, None)
