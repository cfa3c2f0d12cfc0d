"""Receiving privacy-export ZIPs: the multipart body streamed to disk, hashed and measured.

The request body is parsed as it arrives (python-multipart's streaming parser), so an
archive of hundreds of megabytes is never held in memory nor spooled to a temporary file
first; the size limit is enforced on the bytes actually received, whatever Content-Length
claims.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
import zipfile
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from app.errors import AppError, PayloadTooLargeError

UPLOAD_FIELD = "file"
DEFAULT_CHUNK_SIZE = 1024 * 1024
# Room for the multipart framing and small form fields around the archive itself.
_FORM_OVERHEAD_BYTES = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_FILENAME_LENGTH = 255
_UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^\w.\- ()\[\]+]")


class UnsupportedMediaTypeError(AppError):
    """The request body is not in a format this endpoint reads."""

    status_code = 415
    code = "unsupported_media_type"


def sanitise_filename(name: str | None) -> str:
    """The client's file name reduced to a harmless display name (kept in the row only)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE_FILENAME_CHARACTERS.sub("_", base).strip(" .")
    return base[:_MAX_FILENAME_LENGTH] or "upload.zip"


@dataclass
class ReceivedArchive:
    """An archive written to a `.part` file: not visible under its final name until kept."""

    partial_path: Path
    final_path: Path
    original_filename: str
    size_bytes: int
    sha256: str

    @property
    def stored_path(self) -> str:
        """Where the archive lives relative to IMPORT_DIR (`<user_id>/<uuid>.zip`).

        Relative, so the api and the collector may mount IMPORT_DIR at different places.
        """
        return f"{self.final_path.parent.name}/{self.final_path.name}"

    async def keep(self) -> Path:
        """Give the file its final name and return it."""
        await anyio.to_thread.run_sync(os.replace, self.partial_path, self.final_path)
        return self.final_path

    def discard(self) -> None:
        """Remove the file, under whichever name it has."""
        # Synchronous on purpose: it runs in error paths, where a cancelled request could
        # interrupt an await and leave the file behind.
        self.partial_path.unlink(missing_ok=True)
        self.final_path.unlink(missing_ok=True)


@dataclass
class _FilePart:
    """State of the multipart parse: which part we are in and what its headers said."""

    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    disposition: bytes | None = None
    in_file: bool = False
    found: bool = False
    complete: bool = False
    filename: str | None = None
    pending: bytearray = field(default_factory=bytearray)
    body_ended: bool = False


class ArchiveSink:
    """Writes an archive to disk in chunks, hashing and counting, refusing more than allowed."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None
        self._head = b""

    async def open(self) -> None:
        """Create the file (and its folder)."""
        await anyio.to_thread.run_sync(partial(self.path.parent.mkdir, parents=True, exist_ok=True))
        self._file = await anyio.to_thread.run_sync(self.path.open, "xb")

    async def write(self, data: bytes) -> None:
        """Append a chunk; 413 once the archive exceeds the limit, 400 if it is not a ZIP."""
        self.size += len(data)
        if self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        if len(self._head) < len(_ZIP_MAGIC):
            self._head += data[: len(_ZIP_MAGIC) - len(self._head)]
            if not _ZIP_MAGIC.startswith(self._head):
                raise _not_a_zip()
        self._hash.update(data)
        assert self._file is not None
        await anyio.to_thread.run_sync(self._file.write, data)

    async def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            await anyio.to_thread.run_sync(self._file.close)
            self._file = None

    def abort(self) -> None:
        """Close and remove the file (synchronous: it runs in error paths)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)

    @property
    def sha256(self) -> str:
        """Hex digest of what was written."""
        return self._hash.hexdigest()


def _too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The archive is larger than the limit of {max_bytes / (1024 * 1024):g} MB "
        "(IMPORT_MAX_ZIP_SIZE_MB)."
    )


def _not_a_zip() -> AppError:
    return AppError(
        "The upload is not a ZIP archive. Upload the ZIP file Spotify sent you "
        "(for example my_spotify_data.zip) without unpacking it.",
        code="not_a_zip",
    )


class ArchiveReceiver:
    """Streams the `file` field of a multipart upload to `<import_dir>/<user_id>/<uuid>.zip`."""

    def __init__(
        self, import_dir: Path, max_bytes: int, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        self.import_dir = import_dir
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size

    def user_dir(self, user_id: int) -> Path:
        """The folder holding a user's archives."""
        return self.import_dir / str(user_id)

    def owns(self, path: Path) -> bool:
        """True for a path inside the import folder (the only files deletion may remove)."""
        return path.resolve().is_relative_to(self.import_dir.resolve())

    async def receive(
        self,
        user_id: int,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        content_length: str | None,
    ) -> ReceivedArchive:
        """Write the uploaded archive to disk; the partial file is removed on any failure."""
        boundary = self._boundary(content_type)
        # An honest Content-Length lets us refuse before reading anything; a dishonest or
        # missing one is caught by counting the bytes as they arrive.
        declared = int(content_length) if content_length and content_length.isdigit() else 0
        if declared > self.max_bytes + _FORM_OVERHEAD_BYTES:
            raise _too_large(self.max_bytes)
        name = uuid.uuid4().hex
        folder = self.user_dir(user_id).resolve()
        sink = ArchiveSink(folder / f"{name}.zip.part", self.max_bytes)
        await sink.open()
        try:
            part = await self._stream(body, boundary, sink)
            if not await anyio.to_thread.run_sync(zipfile.is_zipfile, sink.path):
                raise _not_a_zip()
        except BaseException:
            sink.abort()
            raise
        return ReceivedArchive(
            partial_path=sink.path,
            final_path=folder / f"{name}.zip",
            original_filename=sanitise_filename(part.filename),
            size_bytes=sink.size,
            sha256=sink.sha256,
        )

    @staticmethod
    def _boundary(content_type: str | None) -> bytes:
        media_type, options = parse_options_header(content_type)
        if media_type != b"multipart/form-data":
            raise UnsupportedMediaTypeError(
                f"Send the archive as multipart/form-data in a field named `{UPLOAD_FIELD}`."
            )
        boundary = options.get(b"boundary")
        if not boundary:
            raise AppError("The multipart Content-Type has no boundary.")
        return boundary

    async def _stream(
        self, body: AsyncIterable[bytes], boundary: bytes, sink: ArchiveSink
    ) -> _FilePart:
        state = _FilePart()
        parser = self._parser(boundary, state)
        received = 0
        try:
            async for chunk in body:
                received += len(chunk)
                if received > self.max_bytes + _FORM_OVERHEAD_BYTES:
                    raise _too_large(self.max_bytes)
                parser.write(chunk)
                # Buffer up to a chunk so the disk sees few large writes, not many small ones.
                if len(state.pending) >= self.chunk_size:
                    await self._drain(state, sink)
            parser.finalize()
        except FormParserError as exc:
            raise AppError(
                "The upload is not a well-formed multipart/form-data body.", code="bad_multipart"
            ) from exc
        except ClientDisconnect as exc:
            raise AppError("The upload was interrupted.", code="upload_interrupted") from exc
        await self._drain(state, sink)
        await sink.close()
        if not state.found:
            raise AppError(
                f"No file in the upload: send the archive in a form field named `{UPLOAD_FIELD}`.",
                code="missing_file",
            )
        if not state.complete or not state.body_ended:
            raise AppError("The upload ended before the archive did.", code="upload_interrupted")
        if sink.size == 0:
            raise _not_a_zip()
        return state

    async def _drain(self, state: _FilePart, sink: ArchiveSink) -> None:
        while state.pending:
            data = bytes(state.pending[: self.chunk_size])
            del state.pending[: self.chunk_size]
            await sink.write(data)

    @staticmethod
    def _parser(boundary: bytes, state: _FilePart) -> MultipartParser:
        def on_part_begin() -> None:
            state.disposition = None
            state.in_file = False

        def on_header_field(data: bytes, start: int, end: int) -> None:
            state.header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            state.header_value += data[start:end]

        def on_header_end() -> None:
            if bytes(state.header_field).strip().lower() == b"content-disposition":
                state.disposition = bytes(state.header_value)
            state.header_field.clear()
            state.header_value.clear()

        def on_headers_finished() -> None:
            if state.found or state.disposition is None:
                return  # only the first `file` field counts; other fields are skipped
            _kind, options = parse_options_header(state.disposition)
            if options.get(b"name") == UPLOAD_FIELD.encode():
                state.in_file = True
                state.found = True
                raw = options.get(b"filename")
                state.filename = raw.decode("utf-8", "replace") if raw else None

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if state.in_file:
                state.pending += data[start:end]

        def on_part_end() -> None:
            if state.in_file:
                state.complete = True
                state.in_file = False

        def on_end() -> None:
            state.body_ended = True

        return MultipartParser(
            boundary,
            {
                "on_part_begin": on_part_begin,
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
                "on_end": on_end,
            },
        )
