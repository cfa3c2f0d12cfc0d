"""How long a request of the UI spent waiting on the API, for its Server-Timing header."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_CALLS: ContextVar[list[tuple[float, float]] | None] = ContextVar("api_calls", default=None)


class ApiWaitTimer:
    """Collects the intervals of the API calls made while answering one request.

    Calls made in parallel (asyncio.gather copies the context, and with it this list) are
    counted once: the figure is how long at least one call was in flight.
    """

    @staticmethod
    def start() -> Token[list[tuple[float, float]] | None]:
        """Begin collecting for the current request."""
        return _CALLS.set([])

    @staticmethod
    def stop(token: Token[list[tuple[float, float]] | None]) -> None:
        """Stop collecting."""
        _CALLS.reset(token)

    @staticmethod
    @contextmanager
    def call() -> Iterator[None]:
        """Time one API call (a no-op outside a request)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            calls = _CALLS.get()
            if calls is not None:
                calls.append((started, time.perf_counter()))

    @staticmethod
    def waited_ms() -> float:
        """Milliseconds during which at least one API call of this request was in flight."""
        calls = sorted(_CALLS.get() or [])
        total = 0.0
        current_start, current_end = None, 0.0
        for start, end in calls:
            if current_start is None or start > current_end:
                if current_start is not None:
                    total += current_end - current_start
                current_start, current_end = start, end
            else:
                current_end = max(current_end, end)
        if current_start is not None:
            total += current_end - current_start
        return total * 1000
