"""`AnswerCache`: the process's recent history answers, reused for the same question.

Assistants ask the same thing more than once (a retried call, a follow-up that needs the
same top list), and the admin UI's charts refresh on a timer. An answer is stored under the
question (the method, its arguments, the resolved windows with their time zone, the user)
and the state of the plays it was computed from: the listening summaries' version and the
newest play id. A new play anywhere, a fold, or a rebuild after a deletion gives the next
question a new key, so an answer is never reused across a change of plays. What else an
answer shows (a track renamed in the catalogue) may lag for at most the cache's lifetime.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import AppSettings

DEFAULT_ENTRIES = 256


class AnswerCache:
    """A bounded, least-recently-used map of answers that expire after `seconds`."""

    def __init__(
        self,
        *,
        seconds: float,
        entries: int = DEFAULT_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds <= 0 or entries <= 0:
            raise ValueError("an answer cache needs a positive lifetime and size")
        self._seconds = seconds
        self._entries = entries
        self._clock = clock
        self._answers: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable) -> object | None:
        """The answer stored under `key` if it has not expired, else None."""
        found = self._answers.get(key)
        if found is None:
            return None
        stored_at, answer = found
        if self._clock() - stored_at >= self._seconds:
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return answer

    def put(self, key: Hashable, answer: object) -> None:
        """Store `answer`, dropping the least recently used one beyond the size."""
        self._answers[key] = (self._clock(), answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._entries:
            self._answers.popitem(last=False)


def answer_cache(settings: AppSettings) -> AnswerCache | None:
    """The cache HISTORY_CACHE_SECONDS asks for, or None when it is 0."""
    seconds = settings.history_cache_seconds
    return AnswerCache(seconds=seconds) if seconds > 0 else None
