"""How the pages show times, durations, sizes and counts (Jinja filters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp from the API as an aware datetime (UTC when it has no zone)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def when(value: Any) -> str:
    """`2026-03-01 14:05 UTC`, or an em dash for no time."""
    moment = parse_time(value)
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(seconds: float) -> str:
    """A duration in its two largest units: `3 h 12 min`, `45 s`."""
    remaining = int(abs(seconds))
    parts: list[str] = []
    for unit, size in _UNITS:
        if remaining >= size or (unit == "s" and not parts):
            parts.append(f"{remaining // size} {unit}")
            remaining %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def relative(value: Any, now: datetime | None = None) -> str:
    """`5 min ago` or `in 2 h 3 min`, relative to now; an em dash for no time."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    delta = (moment - (now or datetime.now(UTC))).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


def number(value: Any) -> str:
    """A count with thin thousands separators: `1 234 567`."""
    if not isinstance(value, int | float):
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", "\u202f")
    return f"{int(value):,}".replace(",", "\u202f")


def size(value: Any) -> str:
    """Bytes in KB, MB or GB."""
    if not isinstance(value, int | float):
        return "—"
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"  # pragma: no cover - the loop returns at GB


def hours(minutes: Any) -> str:
    """Listening minutes as hours, one decimal."""
    if not isinstance(minutes, int | float):
        return "—"
    return f"{minutes / 60:,.1f} h".replace(",", "\u202f")


def percent(value: Any) -> str:
    """A share 0..1 as a percentage."""
    if not isinstance(value, int | float):
        return "—"
    return f"{100 * value:.0f} %"


def label(value: Any) -> str:
    """An enum value as words: `reauth_required` → `reauth required`."""
    return str(value).replace("_", " ") if value is not None else "—"


def install_filters(environment: Environment) -> None:
    """Register the filters on the templates' environment."""
    environment.filters.update(
        when=when,
        relative=relative,
        number=number,
        size=size,
        hours=hours,
        percent=percent,
        label=label,
    )
