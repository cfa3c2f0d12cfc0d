"""`PlayCursor`: the opaque position in a newest-first list of plays, for keyset paging."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.errors import AppError

_VERSION = "p1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class InvalidCursorError(AppError):
    """A cursor this API did not issue, or one that was altered."""

    status_code = 400
    code = "invalid_cursor"


@dataclass(frozen=True)
class PlayCursor:
    """The last play of a page, by (played_at, id): the next page starts strictly after it."""

    played_at: datetime
    play_id: int

    def encode(self) -> str:
        """The cursor as an opaque URL-safe string."""
        micros = (self.played_at - _EPOCH) // _MICROSECOND
        raw = f"{_VERSION}:{micros}:{self.play_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> PlayCursor:
        """Read a cursor made by `encode`, or raise `InvalidCursorError`."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            version, micros, play_id = raw.split(":")
            if version != _VERSION:
                raise ValueError(version)
            moment = _EPOCH + int(micros) * _MICROSECOND
            identifier = int(play_id)
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError) as exc:
            raise InvalidCursorError(
                "cursor is not valid: pass back the next_cursor of a previous page unchanged."
            ) from exc
        if identifier < 1:
            raise InvalidCursorError("cursor is not valid: its play id is out of range.")
        return cls(moment, identifier)
