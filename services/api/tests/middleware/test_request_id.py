"""Request IDs: kept when well formed, replaced otherwise, returned, and in every log line."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from fastapi import Request

from app.main import SpotifyMCPApp
from shared.logging import JsonFormatter

from .conftest import build_app, http_client

route_logger = logging.getLogger("app.tests.request_id")


def _app_with_logging_route() -> SpotifyMCPApp:
    application = build_app()

    async def echo(request: Request) -> dict[str, str]:
        route_logger.info("handling the echo route")
        return {"request_id": request.state.request_id}

    async def explode() -> None:
        route_logger.info("about to fail")
        raise RuntimeError("boom")

    application.app.add_api_route("/test/echo", echo, methods=["GET"])
    application.app.add_api_route("/test/explode", explode, methods=["GET"])
    return application


@pytest.fixture
def json_log_lines() -> Iterator[io.StringIO]:
    """What the API's JSON formatter writes for the `app` loggers during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("api"))
    app_logger = logging.getLogger("app")
    previous_level = app_logger.level
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        app_logger.removeHandler(handler)
        app_logger.setLevel(previous_level)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestRequestId:
    async def test_a_well_formed_inbound_id_is_kept(self) -> None:
        async with http_client(_app_with_logging_route()) as http:
            response = await http.get("/test/echo", headers={"X-Request-ID": "trace-1234.abc_DEF"})
        assert response.headers["x-request-id"] == "trace-1234.abc_DEF"
        assert response.json() == {"request_id": "trace-1234.abc_DEF"}

    @pytest.mark.parametrize(
        "inbound",
        ["short", "x" * 65, "has space in it", "new\nline-injection", "semi;colon;1234", ""],
    )
    async def test_a_malformed_inbound_id_is_replaced_by_a_uuid4(self, inbound: str) -> None:
        async with http_client(_app_with_logging_route()) as http:
            response = await http.get("/test/echo", headers={"X-Request-ID": inbound})
        request_id = response.headers["x-request-id"]
        assert request_id != inbound
        assert uuid.UUID(request_id).version == 4
        assert response.json() == {"request_id": request_id}

    async def test_each_request_without_one_gets_a_new_id(self) -> None:
        async with http_client(_app_with_logging_route()) as http:
            first = await http.get("/test/echo")
            second = await http.get("/no/such/route")
        assert uuid.UUID(first.headers["x-request-id"]).version == 4
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_log_lines_carry_the_request_id(self, json_log_lines: io.StringIO) -> None:
        async with http_client(_app_with_logging_route()) as http:
            response = await http.get("/test/echo", headers={"X-Request-ID": "req-log-000001"})
        assert response.status_code == 200
        records = _records(json_log_lines)
        assert [r["message"] for r in records] == ["handling the echo route"]
        assert records[0]["request_id"] == "req-log-000001"

    async def test_an_unhandled_error_is_logged_with_the_request_id(
        self, json_log_lines: io.StringIO
    ) -> None:
        async with http_client(_app_with_logging_route()) as http:
            response = await http.get("/test/explode")
        assert response.status_code == 500
        records = _records(json_log_lines)
        assert len(records) == 2
        assert {r["request_id"] for r in records} == {response.headers["x-request-id"]}
        assert records[1]["level"] == "ERROR"
        assert "RuntimeError" in str(records[1]["extra"])
