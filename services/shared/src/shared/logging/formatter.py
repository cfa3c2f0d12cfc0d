"""One JSON object per log line, redacted, for stderr and log collectors."""

from __future__ import annotations

import json
import logging

from shared.logging.event import LogEvent


class JsonFormatter(logging.Formatter):
    """Formats a record as a single-line JSON object with the request or job context."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render timestamp, level, service, logger, message, request_id and extra."""
        event = LogEvent.from_record(record, self.service)
        line = {
            "timestamp": event.timestamp,
            "level": event.level,
            "service": event.service,
            "logger": event.logger,
            "message": event.message,
            "request_id": event.request_id,
            "extra": event.extra_with_context(),
        }
        # Values are already JSON-safe; `default=str` is a last line of defence.
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
