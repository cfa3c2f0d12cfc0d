"""A log record turned into redacted, JSON-safe fields: what the formatter and the table get."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.logging.context import current_log_context
from shared.logging.redaction import JsonValue, redact_mapping, redact_text, storable_text

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {
    "message",
    "asctime",
    "taskName",
    # uvicorn duplicates its message with ANSI colours for its own formatter.
    "color_message",
}

_exception_formatter = logging.Formatter()


def _clean(text: str) -> str:
    return redact_text(storable_text(text))


def _as_id(value: object) -> int | None:
    """An integer id, or None when the value is not one (bools are not ids)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log record: who, what and where, with secrets and personal data masked."""

    created_at: datetime
    service: str
    level: str
    logger: str
    message: str
    request_id: str | None
    user_id: int | None
    job_run_id: int | None
    import_job_id: int | None
    extra: dict[str, JsonValue]
    exc_info: str | None
    stack_info: str | None

    @classmethod
    def from_record(cls, record: logging.LogRecord, service: str) -> LogEvent:
        """Capture a record together with the log context bound where it was emitted."""
        context = current_log_context()
        attributes = {
            name: value
            for name, value in vars(record).items()
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_")
        }
        # An id passed explicitly with `extra=` is more specific than the bound context.
        explicit_request_id = attributes.pop("request_id", None)
        user_id = cls._pick_id(attributes, "user_id", context.user_id)
        job_run_id = cls._pick_id(attributes, "job_run_id", context.job_run_id)
        import_job_id = cls._pick_id(attributes, "import_job_id", context.import_job_id)
        request_id = (
            _clean(str(explicit_request_id))
            if explicit_request_id is not None
            else context.request_id
        )
        exc_info = None
        if record.exc_info:
            exc_info = _clean(_exception_formatter.formatException(record.exc_info))
        elif record.exc_text:
            exc_info = _clean(record.exc_text)
        return cls(
            created_at=datetime.fromtimestamp(record.created, UTC),
            service=service,
            level=record.levelname,
            logger=record.name,
            message=_clean(cls._message(record)),
            request_id=request_id,
            user_id=user_id,
            job_run_id=job_run_id,
            import_job_id=import_job_id,
            extra=redact_mapping(attributes),
            exc_info=exc_info,
            stack_info=_clean(record.stack_info) if record.stack_info else None,
        )

    @staticmethod
    def _pick_id(attributes: dict[str, Any], name: str, fallback: int | None) -> int | None:
        """Take an id from `extra=` when it is an integer; otherwise leave it in extra."""
        if name not in attributes:
            return fallback
        value = _as_id(attributes[name])
        if value is None:
            return fallback
        del attributes[name]
        return value

    @staticmethod
    def _message(record: logging.LogRecord) -> str:
        try:
            return record.getMessage()
        except Exception:  # wrong %-arguments must not lose the record
            return f"{record.msg!s} (unformattable arguments: {record.args!r})"

    @property
    def timestamp(self) -> str:
        """ISO 8601 in UTC with milliseconds, e.g. 2026-01-31T12:00:00.123Z."""
        return self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def extra_with_context(self) -> dict[str, JsonValue]:
        """Extra fields, the bound ids and the exception text: the `extra` of a JSON line."""
        fields: dict[str, JsonValue] = dict(self.extra)
        for name, value in (
            ("user_id", self.user_id),
            ("job_run_id", self.job_run_id),
            ("import_job_id", self.import_job_id),
        ):
            if value is not None:
                fields[name] = value
        return fields | self._exception_fields()

    def extra_for_storage(self) -> dict[str, JsonValue]:
        """Extra fields and the exception text: the ids have columns of their own."""
        return dict(self.extra) | self._exception_fields()

    def _exception_fields(self) -> dict[str, JsonValue]:
        fields: dict[str, JsonValue] = {}
        if self.exc_info is not None:
            fields["exc_info"] = self.exc_info
        if self.stack_info is not None:
            fields["stack_info"] = self.stack_info
        return fields
