"""Process-wide logging: JSON lines on stderr, and the logs table when a database is given."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from shared.db.manager import DatabaseManager
from shared.logging.db_handler import DBLogHandler
from shared.logging.formatter import JsonFormatter

# Libraries that log every statement, connection or request at INFO or DEBUG.
NOISY_LOGGERS = (
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "httpx",
    "httpcore",
    "multipart",
    "python_multipart",
    "watchfiles",
)
# uvicorn installs its own handlers and formatters; its records should reach ours instead.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_INSTALLED_MARK = "_shared_logging_installed"


def parse_level(level: str | int) -> int:
    """A logging level from a name such as `info` or `WARNING`, or from a number."""
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.strip().upper())
    if not isinstance(value, int):
        raise ValueError(
            f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return value


def configure_logging(
    service: str,
    level: str | int = "INFO",
    *,
    database: DatabaseManager | None = None,
    database_level: str | int = "INFO",
    stream: TextIO | None = None,
) -> DBLogHandler | None:
    """Send every log record as JSON to stderr, and to the logs table when given a database.

    Returns the `DBLogHandler` (not yet started) so the caller starts and stops it with the
    application's lifespan. Calling again replaces what an earlier call installed.
    """
    root_level = parse_level(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _INSTALLED_MARK, False):
            root.removeHandler(handler)

    console = logging.StreamHandler(stream if stream is not None else sys.stderr)
    console.setFormatter(JsonFormatter(service))
    _install(root, console)
    root.setLevel(root_level)

    # A library logger's level is all that filters its records: the root's level is not
    # consulted for records propagated from below, so never let them be chattier than root.
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root_level))
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)

    if database is None:
        return None
    db_handler = DBLogHandler(
        database, service=service, level=max(parse_level(database_level), root_level)
    )
    _install(root, db_handler)
    return db_handler


def _install(root: logging.Logger, handler: logging.Handler) -> None:
    setattr(handler, _INSTALLED_MARK, True)
    root.addHandler(handler)
