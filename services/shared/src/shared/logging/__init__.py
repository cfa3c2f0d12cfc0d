"""Structured logging: JSON lines, request and job context, redaction, the logs table."""

from shared.logging.context import LogContext, bind_log_context, current_log_context
from shared.logging.db_handler import DBLogHandler
from shared.logging.event import LogEvent
from shared.logging.formatter import JsonFormatter
from shared.logging.redaction import is_sensitive_key, redact_mapping, redact_text
from shared.logging.setup import configure_logging, parse_level

__all__ = [
    "DBLogHandler",
    "JsonFormatter",
    "LogContext",
    "LogEvent",
    "bind_log_context",
    "configure_logging",
    "current_log_context",
    "is_sensitive_key",
    "parse_level",
    "redact_mapping",
    "redact_text",
]
