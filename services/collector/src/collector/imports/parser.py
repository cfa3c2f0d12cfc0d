"""`ZipImportParser`: finds the streaming-history files in an export and reads them safely.

Members are read from the archive in memory, one at a time, and never extracted: a member's
name is only a label, so `../` or absolute names cannot reach the filesystem. Sizes are
checked against the caps from the central directory before anything is decompressed, and
again while reading, since a central directory can lie.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from collector.imports.errors import (
    ArchiveTooLargeError,
    CorruptArchiveError,
    InvalidJsonError,
    NoStreamingHistoryError,
    NotAZipError,
    WrongShapeError,
)
from shared.db.enums import ImportFormat

# Below this size a high compression ratio is harmless (a file of repeated nulls).
_RATIO_CHECK_MIN_BYTES = 1024 * 1024
# Rough bytes per record, to estimate a progress total before a member is parsed.
_BYTES_PER_EXTENDED_RECORD = 700
_BYTES_PER_ACCOUNT_RECORD = 110

_HISTORY_HINT = re.compile(r"streaming_?history|endsong", re.IGNORECASE)
_EXTENDED_NAME = re.compile(r"^(streaming_history_(audio|video)_.*|endsong(_\d+)?)$", re.IGNORECASE)
_ACCOUNT_NAME = re.compile(r"^streaminghistory(_(music|podcast))?_?\d*$", re.IGNORECASE)
_JSON_SUFFIX = re.compile(r"(\.json)+$", re.IGNORECASE)


class MemberKind(StrEnum):
    """Which record layout a streaming-history member uses."""

    EXTENDED = "extended"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Caps that keep a hostile archive from exhausting memory or time."""

    max_uncompressed_bytes: int
    max_member_bytes: int
    max_compression_ratio: float


@dataclass(frozen=True, slots=True)
class HistoryMember:
    """A streaming-history file inside the archive; kind None means "decide by its keys"."""

    info: zipfile.ZipInfo
    kind: MemberKind | None

    @property
    def name(self) -> str:
        """The member's name in the archive (a label only)."""
        return self.info.filename

    @property
    def estimated_records(self) -> int:
        """A guess at the record count from the member's size, for the first progress total."""
        per_record = (
            _BYTES_PER_ACCOUNT_RECORD
            if self.kind is MemberKind.ACCOUNT
            else _BYTES_PER_EXTENDED_RECORD
        )
        return max(1, self.info.file_size // per_record)


@dataclass(frozen=True, slots=True)
class ArchiveSurvey:
    """What the archive holds: history members in import order, and what was left out."""

    members: list[HistoryMember]
    ignored: Counter[str] = field(default_factory=Counter)

    @property
    def format(self) -> ImportFormat:
        """Extended, account data, both, or unknown (decided by keys while reading)."""
        kinds = {member.kind for member in self.members}
        if kinds == {MemberKind.EXTENDED}:
            return ImportFormat.EXTENDED
        if kinds == {MemberKind.ACCOUNT}:
            return ImportFormat.ACCOUNT_DATA
        if {MemberKind.EXTENDED, MemberKind.ACCOUNT} <= kinds:
            return ImportFormat.MIXED
        return ImportFormat.UNKNOWN


@dataclass(frozen=True, slots=True)
class MemberRecords:
    """The parsed records of one member and their layout."""

    kind: MemberKind
    records: list[Any]


def classify_member_name(name: str) -> MemberKind | str | None:
    """The kind a member's name announces, None to decide by keys, or why it is ignored."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "unsafe_member_name"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        return "unsafe_member_name"
    base = parts[-1]
    if base.lower().endswith(".zip"):
        return "nested_archive"
    if not _JSON_SUFFIX.search(base):
        return "not_history"
    stem = _JSON_SUFFIX.sub("", base)
    if _EXTENDED_NAME.match(stem):
        return MemberKind.EXTENDED
    if _ACCOUNT_NAME.match(stem):
        return MemberKind.ACCOUNT
    if _HISTORY_HINT.search(stem):
        return None
    return "not_history"


class ZipImportParser:
    """Reads one export archive: survey first (cheap, from the central directory), then members."""

    def __init__(self, path: Path, limits: ImportLimits) -> None:
        self._limits = limits
        self._bytes_read = 0
        try:
            self._archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            if not _starts_like_zip(path):
                raise NotAZipError("The file is not a ZIP archive.") from exc
            raise CorruptArchiveError(f"The ZIP archive is damaged: {exc}.") from exc
        except (OSError, EOFError, ValueError) as exc:
            raise CorruptArchiveError(f"The ZIP archive cannot be read: {exc}.") from exc

    def __enter__(self) -> ZipImportParser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive file."""
        self._archive.close()

    def survey(self) -> ArchiveSurvey:
        """The history members in import order (extended first, so account rows can match
        them), after checking every cap; raises before anything is decompressed."""
        members: list[HistoryMember] = []
        ignored: Counter[str] = Counter()
        for info in self._archive.infolist():
            if info.is_dir():
                continue
            kind = classify_member_name(info.filename)
            if isinstance(kind, str) and not isinstance(kind, MemberKind):
                ignored[kind] += 1
                continue
            members.append(HistoryMember(info=info, kind=kind))
        if not members:
            raise NoStreamingHistoryError(
                "The archive contains no Spotify streaming-history file "
                "(Streaming_History_Audio_*.json, endsong_*.json or StreamingHistory*.json)."
            )
        self._check_caps(members)
        members.sort(key=lambda m: (m.kind is MemberKind.ACCOUNT, m.name.casefold(), m.name))
        return ArchiveSurvey(members=members, ignored=ignored)

    def read(self, member: HistoryMember) -> MemberRecords:
        """The member's records; raises `MemberUnreadableError` for bad JSON or shape."""
        return decode_member(member, self.read_bytes(member))

    def read_bytes(self, member: HistoryMember) -> bytes:
        """The member's bytes, within the caps; `decode_member` turns them into records."""
        return self._read_bytes(member.info)

    def _check_caps(self, members: list[HistoryMember]) -> None:
        limits = self._limits
        total = 0
        for member in members:
            info = member.info
            if info.file_size > limits.max_member_bytes:
                raise ArchiveTooLargeError(
                    f"{info.filename} expands to {info.file_size:,} bytes, over the "
                    f"{limits.max_member_bytes:,}-byte cap per file (IMPORT_MAX_MEMBER_MB)."
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size >= _RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
                raise ArchiveTooLargeError(
                    f"{info.filename} is compressed {ratio:,.0f}:1, over the "
                    f"{limits.max_compression_ratio:,.0f}:1 cap (IMPORT_MAX_COMPRESSION_RATIO): "
                    "a zip bomb."
                )
            total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise ArchiveTooLargeError(
                f"The streaming history expands to {total:,} bytes, over the "
                f"{limits.max_uncompressed_bytes:,}-byte cap (IMPORT_MAX_UNCOMPRESSED_MB)."
            )

    def _read_bytes(self, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, never more than its declared size nor the caps allow."""
        allowed = min(info.file_size, self._limits.max_member_bytes)
        try:
            with self._archive.open(info) as stream:
                data = stream.read(allowed + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise CorruptArchiveError(f"{info.filename} is damaged: {exc}.") from exc
        if len(data) > allowed:
            raise ArchiveTooLargeError(
                f"{info.filename} expands past its declared size: a zip bomb."
            )
        self._bytes_read += len(data)
        if self._bytes_read > self._limits.max_uncompressed_bytes:
            raise ArchiveTooLargeError(
                "The archive expanded past IMPORT_MAX_UNCOMPRESSED_MB while reading."
            )
        return data


def decode_member(member: HistoryMember, data: bytes) -> MemberRecords:
    """A member's records from its bytes; raises `MemberUnreadableError` for bad JSON or shape."""
    try:
        parsed = _loads(data)
    except (ValueError, RecursionError) as exc:
        raise InvalidJsonError(member.name, f"not valid JSON, perhaps truncated ({exc})") from exc
    if not isinstance(parsed, list):
        raise WrongShapeError(member.name, "expected a list of records")
    kind = member.kind or _kind_from_keys(parsed)
    if kind is None:
        raise WrongShapeError(member.name, "records have no streaming-history keys")
    if parsed and _kind_from_keys(parsed) not in {kind, None}:
        raise WrongShapeError(member.name, f"records do not have the {kind} layout")
    if parsed and not any(_kind_from_keys([record]) for record in parsed[:50]):
        raise WrongShapeError(member.name, "records have no streaming-history keys")
    return MemberRecords(kind=kind, records=parsed)


def _loads(data: bytes) -> Any:
    """orjson for speed; what it refuses and the standard library accepts (NaN, integers
    beyond 64 bits, UTF-16 text, lone surrogate escapes) is read by the standard library,
    which also explains errors."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _valid_text(json.loads(data))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(value: Any) -> Any:
    """The parsed JSON with every string made valid Unicode: a lone surrogate (JSON allows
    the escape, UTF-8 cannot encode it) becomes U+FFFD, so no database refuses the text."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, list):
        return [_valid_text(item) for item in value]
    if isinstance(value, dict):
        return {_valid_text(key): _valid_text(item) for key, item in value.items()}
    return value


def _kind_from_keys(records: list[Any]) -> MemberKind | None:
    """The layout the first record's keys show, if any."""
    first = records[0] if records else None
    if not isinstance(first, dict):
        return None
    if "ts" in first and "ms_played" in first:
        return MemberKind.EXTENDED
    if "endTime" in first and "msPlayed" in first:
        return MemberKind.ACCOUNT
    return None


def _starts_like_zip(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(2) == b"PK"
