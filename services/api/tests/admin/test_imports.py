"""Admin imports: the archive upload, and the import jobs list and detail."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import ImportStatus
from shared.db.models import ImportJob
from testkit.factories import create_import_job, create_user

from .conftest import ADMIN, MAX_ZIP_MB, files_under, make_zip

BOUNDARY = "test-boundary-7f3a9c"


async def _upload(
    client: httpx.AsyncClient, user_id: int, data: bytes, filename: str = "my_spotify_data.zip"
) -> httpx.Response:
    """Upload as a browser does: multipart/form-data with a Content-Length."""
    return await client.post(
        f"/admin/users/{user_id}/imports",
        files={"file": (filename, data, "application/zip")},
        headers=ADMIN,
    )


async def _streamed_form(
    chunks: int, chunk: bytes, *, head: bytes = b"PK\x03\x04"
) -> AsyncIterator[bytes]:
    """A multipart body sent piece by piece, so the request has no Content-Length."""
    yield (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode() + head
    for _ in range(chunks):
        yield chunk
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


_STREAM_HEADERS = {**ADMIN, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


class TestUpload:
    async def test_a_zip_becomes_a_pending_import_stored_under_a_generated_name(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)
        archive = make_zip()

        response = await _upload(client, user.id, archive, "../../etc/My Data.zip")

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "pending"
        assert body["user_id"] == user.id
        assert body["size_bytes"] == len(archive)
        assert body["sha256"] == hashlib.sha256(archive).hexdigest()
        assert body["original_filename"] == "My Data.zip"
        assert body["progress"] == {"records_processed": 0, "records_total": None, "percent": None}
        job = await db_session.get(ImportJob, body["id"])
        assert job is not None
        assert job.stored_path.startswith(f"{user.id}/")  # relative to IMPORT_DIR
        stored = import_dir.resolve() / job.stored_path
        assert stored.parent == (import_dir / str(user.id)).resolve()
        assert stored.suffix == ".zip"
        assert stored.name != "My Data.zip"
        assert stored.read_bytes() == archive
        assert files_under(import_dir) == [stored]  # no partial file left behind
        assert "stored_path" not in body

    async def test_not_a_zip_is_400_and_nothing_is_kept(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)

        response = await _upload(client, user.id, b"just some text, not an archive")

        assert response.status_code == 400
        assert "not a ZIP" in response.json()["error"]["message"]
        assert files_under(import_dir) == []
        assert await db_session.scalar(select(func.count(ImportJob.id))) == 0

    async def test_a_file_starting_like_a_zip_but_not_one_is_400(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)

        response = await _upload(client, user.id, b"PK\x03\x04" + b"\0" * 100)

        assert response.status_code == 400
        assert files_under(import_dir) == []

    async def test_over_the_limit_is_413_and_the_partial_file_is_removed(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)
        too_big = make_zip(os.urandom(MAX_ZIP_MB * 1024 * 1024 + 1))

        response = await _upload(client, user.id, too_big)

        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert files_under(import_dir) == []

    async def test_413_without_content_length_counts_the_streamed_bytes(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)
        body = _streamed_form(40, os.urandom(64 * 1024))  # 2.5 MB

        response = await client.post(
            f"/admin/users/{user.id}/imports", content=body, headers=_STREAM_HEADERS
        )

        assert response.request.headers.get("content-length") is None
        assert response.status_code == 413
        assert files_under(import_dir) == []
        assert await db_session.scalar(select(func.count(ImportJob.id))) == 0

    async def test_413_when_content_length_understates_the_body(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)
        body = _streamed_form(40, os.urandom(64 * 1024))

        response = await client.post(
            f"/admin/users/{user.id}/imports",
            content=body,
            headers={**_STREAM_HEADERS, "Content-Length": "1000"},
        )

        assert response.status_code == 413
        assert files_under(import_dir) == []

    async def test_an_announced_oversized_body_is_refused_before_reading(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)
        read: list[int] = []

        async def body() -> AsyncIterator[bytes]:
            read.append(1)
            yield b"never read"

        response = await client.post(
            f"/admin/users/{user.id}/imports",
            content=body(),
            headers={**_STREAM_HEADERS, "Content-Length": str(50 * 1024 * 1024)},
        )

        assert response.status_code == 413
        assert read == []
        assert files_under(import_dir) == []

    async def test_the_same_archive_twice_is_409_naming_the_first_import(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)
        archive = make_zip()
        first = await _upload(client, user.id, archive)

        second = await _upload(client, user.id, archive)

        assert second.status_code == 409
        assert f"import {first.json()['id']}" in second.json()["error"]["message"]
        assert len(files_under(import_dir)) == 1

    async def test_a_failed_earlier_import_or_another_user_does_not_block(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        other = await create_user(db_session)
        archive = make_zip()
        digest = hashlib.sha256(archive).hexdigest()
        await create_import_job(db_session, user=user, sha256=digest, status=ImportStatus.FAILED)
        await create_import_job(db_session, user=other, sha256=digest)

        response = await _upload(client, user.id, archive)

        assert response.status_code == 201

    async def test_an_empty_file_is_not_a_zip(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)

        response = await _upload(client, user.id, b"")

        assert response.status_code == 400
        assert files_under(import_dir) == []

    async def test_unknown_user_is_404_and_nothing_is_stored(
        self, client: httpx.AsyncClient, import_dir: Path
    ) -> None:
        response = await _upload(client, 999999, make_zip())
        assert response.status_code == 404
        assert files_under(import_dir) == []

    async def test_a_form_without_the_file_field_is_400(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)

        response = await client.post(
            f"/admin/users/{user.id}/imports",
            files={"archive": ("x.zip", make_zip(), "application/zip")},
            headers=ADMIN,
        )

        assert response.status_code == 400
        assert "`file`" in response.json()["error"]["message"]
        assert files_under(import_dir) == []

    async def test_a_body_that_is_not_multipart_is_415(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        response = await client.post(
            f"/admin/users/{user.id}/imports",
            content=make_zip(),
            headers={**ADMIN, "Content-Type": "application/zip"},
        )

        assert response.status_code == 415

    async def test_a_truncated_form_is_400_and_nothing_is_kept(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        user = await create_user(db_session)
        whole = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n\r\n'
        ).encode() + make_zip()

        response = await client.post(
            f"/admin/users/{user.id}/imports", content=whole, headers=_STREAM_HEADERS
        )

        assert response.status_code == 400
        assert files_under(import_dir) == []


class TestImportJobs:
    async def test_list_is_newest_first_with_filters_and_pages(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        other = await create_user(db_session)
        older = await create_import_job(db_session, user=user, status=ImportStatus.SUCCEEDED)
        newer = await create_import_job(db_session, user=user)
        theirs = await create_import_job(db_session, user=other)

        everything = (await client.get("/admin/imports", headers=ADMIN)).json()
        mine = (await client.get(f"/admin/imports?user_id={user.id}", headers=ADMIN)).json()
        pending = (await client.get("/admin/imports?status=pending", headers=ADMIN)).json()
        page = (await client.get("/admin/imports?limit=1&offset=1", headers=ADMIN)).json()

        assert [item["id"] for item in everything["items"]] == [theirs.id, newer.id, older.id]
        assert [item["id"] for item in mine["items"]] == [newer.id, older.id]
        assert mine["total"] == 2
        assert {item["id"] for item in pending["items"]} == {newer.id, theirs.id}
        assert page["total"] == 3
        assert [item["id"] for item in page["items"]] == [newer.id]

    async def test_detail_reports_progress_of_the_known_total(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        job = await create_import_job(
            db_session,
            user=user,
            status=ImportStatus.RUNNING,
            records_total=400,
            records_processed=100,
            records_inserted=90,
            records_duplicate=10,
        )

        response = await client.get(f"/admin/imports/{job.id}", headers=ADMIN)

        assert response.status_code == 200
        body = response.json()
        assert body["progress"] == {"records_processed": 100, "records_total": 400, "percent": 25.0}
        assert (body["records_inserted"], body["records_duplicate"]) == (90, 10)

    async def test_unknown_import_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/admin/imports/999999", headers=ADMIN)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
