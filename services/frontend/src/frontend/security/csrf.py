"""CSRF: every state-changing request carries the session's token, in a form field or header."""

from __future__ import annotations

import hmac

from fastapi import Request

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfRejectedError(Exception):
    """A state-changing request without the session's CSRF token."""


class CsrfGuard:
    """An app-wide dependency: refuses unsafe methods whose token does not match the session's.

    Forms send the token as the hidden `csrf_token` field; htmx sends it as the
    `X-CSRF-Token` header (set once on <body> with hx-headers).
    """

    async def __call__(self, request: Request) -> None:
        """Pass safe methods; check the token of every other."""
        if request.method in SAFE_METHODS:
            return
        slot = getattr(request.state, "session_slot", None)
        session = slot.session if slot is not None else None
        supplied = request.headers.get(CSRF_HEADER)
        if supplied is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
            value = (await request.form()).get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
        if session is None or not supplied:
            raise CsrfRejectedError
        if not hmac.compare_digest(supplied.encode(), session.csrf_token.encode()):
            raise CsrfRejectedError
