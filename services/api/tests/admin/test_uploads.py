"""`ArchiveReceiver`: the upload is streamed to disk in chunks, never held whole in memory."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.admin.uploads import ArchiveReceiver, ArchiveSink, sanitise_filename
from app.errors import AppError, PayloadTooLargeError

from .conftest import files_under, make_zip

BOUNDARY = b"receiver-boundary-41d2"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY.decode()}"
MB = 1024 * 1024


def _head(filename: str = "my_spotify_data.zip") -> bytes:
    return (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"uploaded by a test\r\n"
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + filename.encode() + b'"\r\n'
        b"Content-Type: application/zip\r\n\r\n"
    )


_TAIL = b"\r\n--" + BOUNDARY + b"--\r\n"


async def _body(payload: bytes, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield _head()
    for start in range(0, len(payload), piece):
        yield payload[start : start + piece]
    yield _TAIL


async def _generated_body(
    pieces: int, piece: int = 64 * 1024, sent: list[int] | None = None
) -> AsyncIterator[bytes]:
    """A body made as it is sent (like a network stream): only one piece exists at a time."""
    yield _head()
    for index in range(pieces):
        data = os.urandom(piece)
        if index == 0:
            data = b"PK\x03\x04" + data[4:]
        if sent is not None:
            sent.append(len(data))
        yield data
    yield _TAIL


class TestStreaming:
    async def test_the_archive_reaches_disk_in_bounded_chunks(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        writes: list[int] = []
        original = ArchiveSink.write

        async def counting_write(self: ArchiveSink, data: bytes) -> None:
            writes.append(len(data))
            await original(self, data)

        monkeypatch.setattr(ArchiveSink, "write", counting_write)
        payload = make_zip(os.urandom(3 * MB))
        receiver = ArchiveReceiver(tmp_path, max_bytes=10 * MB, chunk_size=256 * 1024)

        archive = await receiver.receive(
            7, _body(payload), content_type=CONTENT_TYPE, content_length=None
        )

        assert len(writes) >= 12
        assert max(writes) <= 256 * 1024
        assert sum(writes) == len(payload)
        assert archive.size_bytes == len(payload)
        assert archive.sha256 == hashlib.sha256(payload).hexdigest()
        assert archive.original_filename == "my_spotify_data.zip"
        assert archive.partial_path.read_bytes() == payload
        assert archive.partial_path.name.endswith(".zip.part")
        assert await archive.keep() == archive.final_path
        assert files_under(tmp_path) == [archive.final_path]

    async def test_a_large_upload_is_never_held_in_memory(self, tmp_path: Path) -> None:
        sent: list[int] = []
        receiver = ArchiveReceiver(tmp_path, max_bytes=64 * MB)
        tracemalloc.start()
        try:
            with pytest.raises(AppError, match="not a ZIP"):
                # 32 MB of random bytes after a ZIP signature: streamed and hashed in full,
                # then refused by the ZIP check at the end.
                await receiver.receive(
                    1,
                    _generated_body(512, sent=sent),
                    content_type=CONTENT_TYPE,
                    content_length=None,
                )
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert sum(sent) == 32 * MB
        assert peak < 8 * MB
        assert files_under(tmp_path) == []

    async def test_over_the_limit_stops_and_removes_the_partial_file(self, tmp_path: Path) -> None:
        receiver = ArchiveReceiver(tmp_path, max_bytes=1 * MB, chunk_size=64 * 1024)
        sent: list[int] = []

        with pytest.raises(PayloadTooLargeError):
            await receiver.receive(
                1, _generated_body(100, sent=sent), content_type=CONTENT_TYPE, content_length=None
            )

        assert files_under(tmp_path) == []
        assert sum(sent) < 2 * MB  # refused while streaming, not after reading everything

    async def test_a_body_not_starting_like_a_zip_is_refused_at_once(self, tmp_path: Path) -> None:
        receiver = ArchiveReceiver(tmp_path, max_bytes=64 * MB, chunk_size=64 * 1024)
        sent: list[int] = []

        async def body() -> AsyncIterator[bytes]:
            yield _head()
            for _ in range(100):
                sent.append(1)
                yield b"%PDF" + b"-" * (64 * 1024 - 4)
            yield _TAIL

        with pytest.raises(AppError, match="not a ZIP"):
            await receiver.receive(1, body(), content_type=CONTENT_TYPE, content_length=None)

        assert len(sent) < 5
        assert files_under(tmp_path) == []


class TestSanitiseFilename:
    @pytest.mark.parametrize(
        ("given", "kept"),
        [
            ("my_spotify_data.zip", "my_spotify_data.zip"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\export.zip", "export.zip"),
            ("evil\x00name\r\n.zip", "evilname.zip"),
            ("<script>.zip", "_script_.zip"),
            ("...", "upload.zip"),
            (None, "upload.zip"),
        ],
    )
    def test_keeps_only_a_harmless_base_name(self, given: str | None, kept: str) -> None:
        assert sanitise_filename(given) == kept

    def test_long_names_are_cut(self) -> None:
        assert len(sanitise_filename("a" * 1000 + ".zip")) == 255
