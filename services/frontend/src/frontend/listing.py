"""Filters read from a list page's query string, and its page links."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

PAGE_SIZE = 25
MAX_OFFSET = 1_000_000_000
MAX_ID = 2_147_483_647


class QueryReader:
    """Reads filter values leniently: a blank or malformed value is no filter, never an error.

    Filter forms send every field, blank or not; the API would refuse a malformed value
    with 422, so only values it would accept are passed on.
    """

    def __init__(self, params: Mapping[str, str]) -> None:
        self._params = params

    def _raw(self, name: str) -> str | None:
        value = self._params.get(name)
        if value is None:
            return None
        value = value.strip()
        return value if value and "\x00" not in value else None

    def identifier(self, name: str) -> int | None:
        """A database ID (1 .. 2^31-1)."""
        raw = self._raw(name)
        if raw is None or not raw.isdigit():
            return None
        value = int(raw)
        return value if 1 <= value <= MAX_ID else None

    def offset(self) -> int:
        """The list offset (0 when absent)."""
        raw = self._raw("offset")
        if raw is None or not raw.isdigit():
            return 0
        return min(int(raw), MAX_OFFSET)

    def choice(self, name: str, allowed: Iterable[str]) -> str | None:
        """One of `allowed`."""
        raw = self._raw(name)
        return raw if raw is not None and raw in set(allowed) else None

    def text(self, name: str, max_length: int) -> str | None:
        """Free text up to `max_length` characters."""
        raw = self._raw(name)
        return raw[:max_length] if raw is not None else None

    def moment(self, name: str) -> str | None:
        """A time as ISO 8601 (from a datetime-local or date input, read as UTC)."""
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(raw).isoformat()
        except ValueError:
            return None

    def day(self, name: str) -> date | None:
        """A calendar date `YYYY-MM-DD`."""
        raw = self._raw(name)
        if raw is None or len(raw) != 10:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return None


@dataclass(frozen=True)
class Pagination:
    """Where a page of a list stands, with links to its neighbours that keep the filters."""

    total: int
    limit: int
    offset: int
    path: str
    filters: Mapping[str, Any]

    @classmethod
    def of(cls, page: Mapping[str, Any], path: str, filters: Mapping[str, Any]) -> Pagination:
        """The pagination of an API list answer (`{items, total, limit, offset}`)."""
        return cls(
            total=int(page["total"]),
            limit=int(page["limit"]),
            offset=int(page["offset"]),
            path=path,
            filters={key: value for key, value in filters.items() if value not in (None, "")},
        )

    @property
    def first(self) -> int:
        """1-based number of the first item shown (0 for an empty page)."""
        return min(self.offset + 1, self.total) if self.total else 0

    @property
    def last(self) -> int:
        """1-based number of the last item shown."""
        return min(self.offset + self.limit, self.total)

    def url(self, offset: int) -> str:
        """The list at another offset, filters kept."""
        query = {**self.filters, **({"offset": offset} if offset else {})}
        return self.path + (f"?{urlencode(query)}" if query else "")

    @property
    def previous_url(self) -> str | None:
        """The page before, or None on the first."""
        return self.url(max(self.offset - self.limit, 0)) if self.offset > 0 else None

    @property
    def next_url(self) -> str | None:
        """The page after, or None on the last."""
        following = self.offset + self.limit
        return self.url(following) if following < self.total else None

    @property
    def query(self) -> str:
        """The current filters and offset as a query string (for partial refreshes)."""
        query = {**self.filters, **({"offset": self.offset} if self.offset else {})}
        return urlencode(query)
