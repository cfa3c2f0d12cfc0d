"""JSON lines: one object per line, the context ids, and nothing secret or personal."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.logging import JsonFormatter, bind_log_context, current_log_context

ACCESS_TOKEN = "BQDx7Yk2c9Lq0Wm4Zt8Rv1Np6Hs3Jf5Gd2Ka9Xe7Cb4Vn1Mq8Pw0"
REFRESH_TOKEN = "AQBzv3Rt8Lk2Mn7Qp1Xs5Wd9Fg4Hj6Kl0Zc3Vb8Nm2As5Df7Gh1"


class JsonLines:
    """A logger wired to a JsonFormatter that writes into memory."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter("api"))
        self.logger = logging.getLogger(f"tests.json.{uuid.uuid4().hex[:8]}")
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def last(self) -> dict[str, Any]:
        return self.lines()[-1]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)


@pytest.fixture
def json_lines() -> Iterator[JsonLines]:
    lines = JsonLines()
    yield lines
    lines.close()


class TestJsonLine:
    def test_line_has_the_documented_fields(self, json_lines: JsonLines) -> None:
        json_lines.logger.warning("polled %d plays", 3)

        line = json_lines.last()

        assert set(line) == {
            "timestamp",
            "level",
            "service",
            "logger",
            "message",
            "request_id",
            "extra",
        }
        assert line["level"] == "WARNING"
        assert line["service"] == "api"
        assert line["logger"] == json_lines.logger.name
        assert line["message"] == "polled 3 plays"
        assert line["request_id"] is None
        assert line["extra"] == {}

    def test_timestamp_is_iso_8601_utc_with_milliseconds(self, json_lines: JsonLines) -> None:
        json_lines.logger.info("tick")

        timestamp = json_lines.last()["timestamp"]

        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", timestamp)
        parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60

    def test_each_record_is_exactly_one_line(self, json_lines: JsonLines) -> None:
        json_lines.logger.info("first line\nsecond line", extra={"note": "a\nb"})
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            json_lines.logger.exception("failed")

        assert len(json_lines.text.splitlines()) == 2
        assert json_lines.lines()[0]["message"] == "first line\nsecond line"

    def test_extra_fields_are_kept_and_made_json_safe(self, json_lines: JsonLines) -> None:
        class Opaque:
            def __str__(self) -> str:
                return "opaque-thing"

        when = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
        json_lines.logger.info(
            "imported",
            extra={
                "plays": 12,
                "ratio": float("nan"),
                "when": when,
                "thing": Opaque(),
                "tags": ("a", "b"),
                "raw": b"\x00\x01",
                "nested": {1: {"ok": True}},
            },
        )

        extra = json_lines.last()["extra"]

        assert extra["plays"] == 12
        assert extra["ratio"] == "nan"
        assert extra["when"] == when.isoformat()
        assert extra["thing"] == "opaque-thing"
        assert extra["tags"] == ["a", "b"]
        assert extra["raw"] == "<2 bytes>"
        assert extra["nested"] == {"1": {"ok": True}}

    def test_exception_is_rendered_as_text_under_exc_info(self, json_lines: JsonLines) -> None:
        try:
            raise RuntimeError("spotify said no")
        except RuntimeError:
            json_lines.logger.exception("sync failed")

        extra = json_lines.last()["extra"]

        assert isinstance(extra["exc_info"], str)
        assert "Traceback" in extra["exc_info"]
        assert "RuntimeError: spotify said no" in extra["exc_info"]

    def test_unformattable_arguments_still_produce_a_line(self) -> None:
        record = logging.LogRecord(
            "tests.json", logging.INFO, __file__, 1, "two placeholders %s %s", ("one",), None
        )

        line = json.loads(JsonFormatter("api").format(record))

        assert "two placeholders" in line["message"]


class TestContext:
    def test_bound_ids_appear_on_the_line(self, json_lines: JsonLines) -> None:
        with bind_log_context(request_id="req-42", user_id=7, job_run_id=9, import_job_id=11):
            json_lines.logger.info("working")

        line = json_lines.last()

        assert line["request_id"] == "req-42"
        assert line["extra"]["user_id"] == 7
        assert line["extra"]["job_run_id"] == 9
        assert line["extra"]["import_job_id"] == 11

    def test_inner_block_adds_to_outer_and_is_undone_on_exit(self) -> None:
        with bind_log_context(request_id="req-1", user_id=1):
            with bind_log_context(job_run_id=5):
                inner = current_log_context()
            after_inner = current_log_context()
        outside = current_log_context()

        assert (inner.request_id, inner.user_id, inner.job_run_id) == ("req-1", 1, 5)
        assert after_inner.job_run_id is None
        assert outside.request_id is None
        assert outside.user_id is None

    async def test_tasks_started_inside_a_block_inherit_it(self, json_lines: JsonLines) -> None:
        async def job() -> None:
            await asyncio.sleep(0)
            json_lines.logger.info("inside task")

        with bind_log_context(job_run_id=77):
            task = asyncio.create_task(job())
        await task

        assert json_lines.last()["extra"]["job_run_id"] == 77

    def test_explicit_extra_id_wins_over_the_bound_one(self, json_lines: JsonLines) -> None:
        with bind_log_context(request_id="req-outer", user_id=1):
            json_lines.logger.info("other user", extra={"user_id": 2, "request_id": "req-x"})

        line = json_lines.last()

        assert line["request_id"] == "req-x"
        assert line["extra"]["user_id"] == 2


class TestRedaction:
    @pytest.mark.parametrize(
        ("message", "secret"),
        [
            (f"calling Spotify with Authorization: Bearer {ACCESS_TOKEN}", ACCESS_TOKEN),
            (f"retrying with bearer {ACCESS_TOKEN}", ACCESS_TOKEN),
            ("welcome jane.doe+spotify@example.co.uk", "jane.doe+spotify@example.co.uk"),
            ("request from 203.0.113.42:51234", "203.0.113.42"),
            ("request from 2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
            (f"refresh failed for refresh_token={REFRESH_TOKEN}", REFRESH_TOKEN),
            (f"token response {{'access_token': '{ACCESS_TOKEN}'}}", ACCESS_TOKEN),
            ("GET /auth/callback?code=AQCsecretcode123&state=xyz", "AQCsecretcode123"),
            ("connecting to postgresql://app:hunter2@db:5432/app", "hunter2"),
            (f"unlabelled {REFRESH_TOKEN} in text", REFRESH_TOKEN),
        ],
    )
    def test_secret_in_message_never_reaches_the_line(
        self, json_lines: JsonLines, message: str, secret: str
    ) -> None:
        json_lines.logger.info(message)

        assert secret not in json_lines.text
        assert json_lines.last()["message"] != message

    def test_secret_in_format_arguments_is_masked(self, json_lines: JsonLines) -> None:
        json_lines.logger.info("user %s from %s", "jane@example.com", "198.51.100.7")

        assert json_lines.last()["message"] == "user [EMAIL] from [IP]"

    def test_sensitive_keys_in_extra_are_masked(self, json_lines: JsonLines) -> None:
        json_lines.logger.info(
            "token refreshed",
            extra={
                "refresh_token": REFRESH_TOKEN,
                "accessToken": ACCESS_TOKEN,
                "headers": {"Authorization": f"Bearer {ACCESS_TOKEN}", "Accept": "json"},
                "client_ip": "203.0.113.42",
                "email": "jane@example.com",
                "client_secret": "s3cr3t",
                "code": "AQCsecretcode123",
                "status_code": 200,
                "note": "sent to jane@example.com from 203.0.113.42",
            },
        )

        extra = json_lines.last()["extra"]

        for secret in (REFRESH_TOKEN, ACCESS_TOKEN, "203.0.113.42", "jane@example.com", "s3cr3t"):
            assert secret not in json_lines.text
        assert "AQCsecretcode123" not in json_lines.text
        assert extra["refresh_token"] == "[REDACTED]"
        assert extra["headers"] == {"Authorization": "[REDACTED]", "Accept": "json"}
        assert extra["status_code"] == 200
        assert extra["note"] == "sent to [EMAIL] from [IP]"

    def test_exception_text_is_redacted(self, json_lines: JsonLines) -> None:
        try:
            raise ValueError(f"bad grant for refresh_token={REFRESH_TOKEN}")
        except ValueError:
            json_lines.logger.exception("refresh failed")

        assert REFRESH_TOKEN not in json_lines.text

    def test_ordinary_text_is_left_readable(self, json_lines: JsonLines) -> None:
        message = (
            "imported Streaming_History_Audio_2019-2020_3.json at 10:00:00: "
            "status_code=200 plays=1532 sha256=" + "9f86d081884c7d659a2feaf0c822a15d" * 2
        )

        json_lines.logger.info(message)

        assert json_lines.last()["message"] == message


class TestLocalAddresses:
    @pytest.mark.parametrize(
        "text",
        [
            "api on http://127.0.0.1:8000",
            "listening on 0.0.0.0:8001",
            "bound to [::1]:8000",
        ],
    )
    def test_this_machines_own_addresses_stay_readable(self, text: str) -> None:
        from shared.logging import redact_text  # noqa: PLC0415

        assert redact_text(text) == text

    def test_other_addresses_are_masked(self) -> None:
        from shared.logging import redact_text  # noqa: PLC0415

        assert redact_text("from 203.0.113.7 and 2001:db8::1") == "from [IP] and [IP]"
