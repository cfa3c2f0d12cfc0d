"""configure_logging: JSON on stderr for everything, and a DBLogHandler when asked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared.db.manager import DatabaseManager
from shared.logging import DBLogHandler, configure_logging, parse_level
from shared.logging.setup import NOISY_LOGGERS, UVICORN_LOGGERS


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the root logger and the library loggers configure_logging changes."""
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    saved = {
        name: (logger.level, list(logger.handlers), logger.propagate)
        for name in (*NOISY_LOGGERS, *UVICORN_LOGGERS)
        for logger in [logging.getLogger(name)]
    }
    yield
    for handler in list(root.handlers):
        if handler not in root_handlers:
            root.removeHandler(handler)
    root.setLevel(root_level)
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def installed(handler_type: type[logging.Handler]) -> list[logging.Handler]:
    return [handler for handler in logging.getLogger().handlers if type(handler) is handler_type]


class TestConfigureLogging:
    def test_records_from_any_logger_become_json_lines(self) -> None:
        stream = io.StringIO()

        result = configure_logging("collector", "DEBUG", stream=stream)
        logging.getLogger("collector.polling").debug("polled user %d", 5)

        line = json.loads(stream.getvalue().splitlines()[-1])
        assert result is None
        assert line["service"] == "collector"
        assert line["logger"] == "collector.polling"
        assert line["message"] == "polled user 5"

    def test_uvicorn_access_lines_are_json_and_hide_the_client_address(self) -> None:
        stream = io.StringIO()
        access = logging.getLogger("uvicorn.access")
        access.addHandler(logging.StreamHandler(io.StringIO()))
        access.propagate = False

        configure_logging("api", "INFO", stream=stream)
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "203.0.113.9:50123",
            "GET",
            "/auth/callback?code=AQCsecret&state=s",
            "1.1",
            200,
        )

        line = json.loads(stream.getvalue().splitlines()[-1])
        assert access.handlers == []
        assert line["logger"] == "uvicorn.access"
        assert "203.0.113.9" not in line["message"]
        assert "AQCsecret" not in line["message"]

    def test_noisy_libraries_are_quieted(self) -> None:
        stream = io.StringIO()

        configure_logging("api", "DEBUG", stream=stream)
        logging.getLogger("sqlalchemy.engine.Engine").info("SELECT 1")
        logging.getLogger("httpx").info("HTTP Request: GET https://api.spotify.com/v1/me")

        assert stream.getvalue() == ""

    def test_level_above_warning_also_quiets_library_warnings(self) -> None:
        stream = io.StringIO()

        configure_logging("api", "ERROR", stream=stream)
        logging.getLogger("asyncpg").warning("minor")

        assert stream.getvalue() == ""

    def test_with_a_database_returns_an_attached_unstarted_db_handler(self) -> None:
        database = DatabaseManager("sqlite+aiosqlite:///:memory:")

        handler = configure_logging("api", "DEBUG", database=database, stream=io.StringIO())

        assert isinstance(handler, DBLogHandler)
        assert handler in logging.getLogger().handlers
        assert handler.level == logging.INFO
        assert handler.service == "api"
        assert not handler.running

    def test_calling_again_replaces_what_it_installed(self) -> None:
        database = DatabaseManager("sqlite+aiosqlite:///:memory:")
        stream = io.StringIO()

        configure_logging("api", "INFO", database=database, stream=io.StringIO())
        second = configure_logging("api", "INFO", database=database, stream=stream)

        assert installed(DBLogHandler) == [second]
        assert len(installed(logging.StreamHandler)) == 1

    def test_unknown_level_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown log level"):
            configure_logging("api", "LOUD")


class TestParseLevel:
    @pytest.mark.parametrize(
        ("name", "level"),
        [("debug", logging.DEBUG), (" INFO ", logging.INFO), ("Warning", logging.WARNING)],
    )
    def test_names_in_any_case(self, name: str, level: int) -> None:
        assert parse_level(name) == level
