"""Free-text redaction: every sensitive pair is masked, ordinary text stays readable."""

from __future__ import annotations

import pytest

from shared.logging import redact_text
from shared.logging.redaction import REDACTED


class TestSensitivePairs:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param(
                "refresh failed: refresh_token=AQshort123",
                f"refresh failed: refresh_token={REDACTED}",
                id="after-a-prose-colon",
            ),
            pytest.param(
                "params: password=hunter2", f"params: password={REDACTED}", id="after-params"
            ),
            pytest.param("detail: token=abc", f"detail: token={REDACTED}", id="after-detail"),
            pytest.param(
                "a=b=password=hunter2", f"a=b=password={REDACTED}", id="after-chained-pairs"
            ),
            pytest.param(
                "note: user=bob, secret: xyz",
                f"note: user=bob, secret: {REDACTED}",
                id="after-a-list-of-pairs",
            ),
            pytest.param(
                "GET /callback?code=abc&state=xyz",
                f"GET /callback?code={REDACTED}&state=xyz",
                id="query-string-code",
            ),
            pytest.param(
                "redirect=http://127.0.0.1:8000/callback?code=abc",
                f"redirect=http://127.0.0.1:8000/callback?code={REDACTED}",
                id="url-inside-another-pair",
            ),
            pytest.param(
                '{"access_token": "abc", "expires_in": 3600}',
                f'{{"access_token": "{REDACTED}", "expires_in": 3600}}',
                id="json",
            ),
            pytest.param(
                "{'code': 'AQabc', 'state': 'xyz'}",
                f"{{'code': '{REDACTED}', 'state': 'xyz'}}",
                id="python-dict-repr",
            ),
            pytest.param(
                '{"error": "bad grant: refresh_token=abc"}',
                f'{{"error": "bad grant: refresh_token={REDACTED}"}}',
                id="inside-a-harmless-json-value",
            ),
            pytest.param(
                "Authorization: Bearer x", f"Authorization: {REDACTED}", id="bearer-header"
            ),
            pytest.param(
                "Authorization: Basic dXNlcjpwYXNz==",
                f"Authorization: {REDACTED}",
                id="basic-header",
            ),
            pytest.param("pg_dump --password=hunter2", f"pg_dump --password={REDACTED}", id="flag"),
            pytest.param('password="hunter2', f'password="{REDACTED}', id="quote-cut-off"),
            pytest.param("token=abc==", f"token={REDACTED}", id="base64-padding"),
            pytest.param("code: abc", f"code: {REDACTED}", id="code-colon-word"),
            pytest.param("code=200", f"code={REDACTED}", id="code-equals-number"),
            pytest.param(
                "postgresql://app:pw@db:5432/app",
                f"postgresql://app:{REDACTED}@db:5432/app",
                id="url-credentials",
            ),
            pytest.param(
                "redis://:pw@cache:6379", f"redis://:{REDACTED}@cache:6379", id="url-password-only"
            ),
        ],
    )
    def test_sensitive_value_is_masked_wherever_the_pair_stands(
        self, text: str, expected: str
    ) -> None:
        assert redact_text(text) == expected


class TestReadableText:
    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("database migrated", id="plain-message"),
            pytest.param("status_code=200", id="status-code"),
            pytest.param("exit code: 1", id="exit-code"),
            pytest.param("HTTP status code: 404.", id="status-code-in-prose"),
            pytest.param('{"code": 404, "message": "not found"}', id="json-number-code"),
            pytest.param("plays=1532 skipped=3 state=xyz", id="harmless-pairs"),
            pytest.param("imported history.json at 10:00:00: 12 plays", id="clock-time"),
            pytest.param("api on http://127.0.0.1:8000", id="ipv4-loopback-url"),
            pytest.param("listening on 0.0.0.0:8001", id="unspecified-address"),
            pytest.param("bound to [::1]:8000", id="ipv6-loopback"),
            pytest.param("std::vector<int>", id="double-colon"),
        ],
    )
    def test_harmless_text_is_unchanged(self, text: str) -> None:
        assert redact_text(text) == text


class TestPathologicalInput:
    """Each input is 100 kB shaped to make a backtracking pattern rescan it from every start.

    With a quadratic pattern these take minutes; with linear ones they finish at once.
    """

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("a" * 100_000, id="one-long-word"),
            pytest.param("a." * 50_000, id="dotted-run"),
            pytest.param("x@" + "a." * 50_000, id="email-without-domain"),
            pytest.param("a=" * 50_000, id="chained-pairs"),
            pytest.param("a: " * 33_334, id="chained-colons"),
            pytest.param("x://" + "u:" * 50_000, id="url-without-at"),
            pytest.param("1:" * 50_000, id="ipv6-lookalike"),
        ],
    )
    def test_harmless_pathological_text_is_returned_unchanged(self, text: str) -> None:
        assert redact_text(text) == text

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param("token=" * 16_667, f"token={REDACTED}", id="sensitive-chain"),
            pytest.param("aA1" * 33_334, REDACTED, id="opaque-run"),
        ],
    )
    def test_sensitive_pathological_text_is_masked(self, text: str, expected: str) -> None:
        assert redact_text(text) == expected

    def test_unclosed_quotes_are_masked_to_the_end(self) -> None:
        text = 'note: "a: "' * 10_000 + 'password="hunter2'

        redacted = redact_text(text)

        assert redacted.endswith(f'password="{REDACTED}')
        assert "hunter2" not in redacted
