"""Masking of secrets and personal data before anything reaches a log line or the logs table.

Two layers: values under keys named like a secret (`refresh_token`, `Authorization`,
`email`, `client_ip`, ...) are replaced whatever they hold, and free text (messages,
exception text, string values) is scanned for `key=value` and `key: value` pairs with such
keys wherever they stand (after another pair, in a query string, in JSON), Bearer and Basic
credentials, credentials in URLs, email addresses, IPv4/IPv6 addresses and long opaque
tokens. The result is also made JSON-safe, so a log line can always be serialised.

Every pattern is linear in the length of the text: a log line is attacker-influenced input.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any

REDACTED = "[REDACTED]"
EMAIL_MASK = "[EMAIL]"
IP_MASK = "[IP]"

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]

# A key is sensitive when one of its words is one of these ...
_SENSITIVE_WORDS = frozenset(
    {
        "token",
        "tokens",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "passphrase",
        "authorization",
        "bearer",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "apikey",
        "email",
        "emails",
        "ip",
        "ips",
        "ipv4",
        "ipv6",
    }
)
# ... or when it contains one of these phrases (word pairs too generic one by one) ...
_SENSITIVE_PHRASES = (
    "api_key",
    "private_key",
    "encryption_key",
    "signing_key",
    "code_verifier",
    "remote_addr",
    "client_addr",
    "forwarded_for",
    "user_agent",
    "username",
    "user_name",
)
# ... or is exactly one of these: `code` is the OAuth authorization code, while
# `status_code` or `exit_code` are worth keeping.
_SENSITIVE_EXACT = frozenset({"code", "auth_code", "oauth_code"})

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# `scheme://user:password@host`, also without a user (`redis://:password@host`). Anchored on
# `://` rather than on the scheme, so no attempt rescans a long dotted run.
_URL_CREDENTIALS = re.compile(r"(?<=://)([^/\s:@]*):[^@\s/]+@")
# A key and its separator, without the value: the value is only taken when the key is
# sensitive, so a harmless pair never swallows the pair after it (`failed: token=abc`).
# The look-behind starts keys only at the beginning of a word, which keeps the scan linear.
_KEY = re.compile(r"""(?<![\w.\-])(?P<key>["']?-*[A-Za-z_][\w.\-]*["']?)(?P<sep>\s*[:=]\s*)""")
# The value of a sensitive key: a quoted string (up to the end of the text when the closing
# quote was cut off), or a run up to the next delimiter. `=` and `:` belong to the run, as in
# base64 padding or `user:password`.
_VALUE = re.compile(r""""[^"]*"?|'[^']*'?|(?:(?i:bearer|basic)\s+)?[^\s"'&,;)\]}]+""")
_NUMBER = re.compile(r"[+-]?\d+\.?")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_IPV4_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}(?!\w)")
# Anything shaped like IPv6 is checked with `ipaddress`, so clock times are left alone.
_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?![\w:])"
)
# Access and refresh tokens, Fernet ciphertexts, API keys: long runs of base64url characters.
_OPAQUE_RUN = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{40,}={0,2}")

_MAX_DEPTH = 8


def _key_phrase(name: str) -> str:
    """`refreshToken`, `Refresh-Token` and `refresh_token` all become `refresh_token`."""
    return _NON_ALNUM.sub("_", _CAMEL_BOUNDARY.sub("_", name).lower()).strip("_")


def is_sensitive_key(name: str) -> bool:
    """True when values stored under this key name must never be logged."""
    phrase = _key_phrase(name)
    if phrase in _SENSITIVE_EXACT:
        return True
    if any(word in _SENSITIVE_WORDS for word in phrase.split("_")):
        return True
    return any(part in phrase for part in _SENSITIVE_PHRASES)


def _mask_key_values(text: str) -> str:
    """Mask the value of every `key=value` or `key: value` pair whose key is sensitive."""
    pieces: list[str] = []
    position = 0
    while (pair := _KEY.search(text, position)) is not None:
        after_separator = pair.end()
        pieces.append(text[position:after_separator])
        position = after_separator
        key = pair.group("key")
        if not is_sensitive_key(key):
            continue  # the value is scanned as text: it may hold the next pair
        value = _VALUE.match(text, after_separator)
        if value is None or _is_number_after_code(key, pair.group("sep"), value.group()):
            continue
        pieces.append(_masked(value.group()))
        position = value.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _is_number_after_code(key: str, separator: str, value: str) -> bool:
    # `exit code: 1`, `status code: 404` and `{"code": 404}` are not OAuth codes, which are
    # strings and travel as `code=...` in a query string, so `code=` is always masked.
    return "=" not in separator and _key_phrase(key) == "code" and bool(_NUMBER.fullmatch(value))


def _masked(value: str) -> str:
    quote = value[0] if value[0] in "\"'" else ""
    closing = quote if len(value) > 1 and value.endswith(quote) else ""
    return f"{quote}{REDACTED}{closing}"


def _mask_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> str:
    # This machine's own addresses (127.0.0.1, ::1, 0.0.0.0) identify nobody and make the
    # service's own URLs readable in its logs.
    return text if address.is_loopback or address.is_unspecified else IP_MASK


def _mask_ipv4(match: re.Match[str]) -> str:
    return _mask_ip(ipaddress.IPv4Address(match.group(0)), match.group(0))


def _mask_ipv6(match: re.Match[str]) -> str:
    candidate = match.group(0)
    try:
        address = ipaddress.IPv6Address(candidate.split("%", 1)[0])
    except ValueError:
        return candidate  # a clock time, a MAC address, a `::` in code
    return _mask_ip(address, candidate)


def _mask_opaque(match: re.Match[str]) -> str:
    run = match.group(0)
    # Mixed case and digits together mark a random token; a sha256 (lowercase hex), a
    # snake_case identifier or a long word stay readable.
    if (
        any(c.islower() for c in run)
        and any(c.isupper() for c in run)
        and any(c.isdigit() for c in run)
    ):
        return REDACTED
    return run


def redact_text(text: str) -> str:
    """Mask credentials, tokens, email addresses and IP addresses inside free text."""
    text = _URL_CREDENTIALS.sub(rf"\1:{REDACTED}@", text)
    text = _mask_key_values(text)
    text = _AUTH_SCHEME.sub(rf"\1 {REDACTED}", text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _IPV4.sub(_mask_ipv4, text)
    text = _IPV6_CANDIDATE.sub(_mask_ipv6, text)
    return _OPAQUE_RUN.sub(_mask_opaque, text)


def storable_text(text: str) -> str:
    """Text PostgreSQL accepts: no NUL characters, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def redact_value(value: object, *, key: str | None = None, _depth: int = 0) -> JsonValue:
    """A JSON-safe copy of a value with secrets masked; `key` is the name it was stored under."""
    if key is not None and value is not None and is_sensitive_key(key):
        return REDACTED
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        # NaN and infinity are not JSON and PostgreSQL's JSONB refuses them.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return redact_text(storable_text(value))
    if _depth >= _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, Enum):
        return redact_value(value.value, _depth=_depth + 1)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"  # raw bytes may be a token; their size is enough
    if isinstance(value, Mapping):
        return {
            _redact_key(k): redact_value(v, key=_as_text(k), _depth=_depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item, _depth=_depth + 1) for item in value]
    return redact_text(storable_text(_as_text(value)))


def redact_mapping(values: Mapping[str, Any]) -> dict[str, JsonValue]:
    """A JSON-safe copy of a mapping with sensitive keys masked and text redacted."""
    return {_redact_key(key): redact_value(value, key=key) for key, value in values.items()}


def _redact_key(key: object) -> str:
    # Keys are data too: a dict keyed by email address must not print the addresses.
    return redact_text(storable_text(_as_text(key)))


def _as_text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the log record
        return f"<unprintable {type(value).__name__}>"
