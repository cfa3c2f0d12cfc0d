"""`AnswerCache`: the process's recent history answers, reused for the same question.

Assistants ask the same thing more than once (a retried call, a follow-up that needs the
same top list), and the admin UI's charts refresh on a timer. An answer is stored under the
question (the method, its arguments, the windows as asked with their time zone, the user)
and the state of the plays it was computed from: the listening summaries' version and the
newest play id. A new play anywhere, a fold, or a rebuild after a deletion gives the next
question a new key, so an answer is never reused across a change of plays. What else an
answer shows (a track renamed in the catalogue) may lag for at most the cache's lifetime,
and so may the window of "the last N days": that question keeps its answer, which states
the window it was computed for, while it is fresh.

Answers are kept as their JSON, which bounds the memory they take exactly: a year of daily
listening times is some 45 kB of JSON but about 2 MB as Python objects.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from app.settings import AppSettings

DEFAULT_ENTRIES = 512
DEFAULT_BYTES = 16 * 1024 * 1024

AnswerT = TypeVar("AnswerT", bound=BaseModel)


class AnswerCache:
    """A bounded, least-recently-used map of answers that expire after `seconds`."""

    def __init__(
        self,
        *,
        seconds: float,
        entries: int = DEFAULT_ENTRIES,
        max_bytes: int = DEFAULT_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds <= 0 or entries <= 0 or max_bytes <= 0:
            raise ValueError("an answer cache needs a positive lifetime and size")
        self._seconds = seconds
        self._entries = entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._answers: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def size_bytes(self) -> int:
        """The JSON bytes held now."""
        return self._bytes

    def get(self, key: Hashable, model: type[AnswerT]) -> AnswerT | None:
        """The answer stored under `key`, as a new `model`, if it has not expired."""
        found = self._answers.get(key)
        if found is None:
            return None
        stored_at, data = found
        if self._clock() - stored_at >= self._seconds:
            self._drop(key)
            return None
        self._answers.move_to_end(key)
        return model.model_validate_json(data)

    def put(self, key: Hashable, answer: BaseModel) -> None:
        """Store `answer`, dropping the least recently used ones beyond the bounds."""
        data = answer.model_dump_json().encode()
        if len(data) > self._max_bytes:
            return
        if key in self._answers:
            self._drop(key)
        self._answers[key] = (self._clock(), data)
        self._bytes += len(data)
        while len(self._answers) > self._entries or self._bytes > self._max_bytes:
            self._drop(next(iter(self._answers)))

    def _drop(self, key: Hashable) -> None:
        _stored_at, data = self._answers.pop(key)
        self._bytes -= len(data)


def answer_cache(settings: AppSettings) -> AnswerCache | None:
    """The cache HISTORY_CACHE_SECONDS asks for, or None when it is 0."""
    seconds = settings.history_cache_seconds
    return AnswerCache(seconds=seconds) if seconds > 0 else None
