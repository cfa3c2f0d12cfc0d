"""Simultaneous requests for the same work enqueue it once, through the real sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.main import SpotifyMCPApp
from app.settings import AppSettings
from shared.db.enums import JobType
from shared.db.models import ImportJob, JobRun
from testkit.factories import create_spotify_token, create_user
from testkit.plugin import FreshDatabase

from .conftest import files_under, make_zip

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


class TestTriggerSyncRace:
    async def test_concurrent_requests_enqueue_exactly_one_poll(
        self, fresh_database: FreshDatabase, api_settings: AppSettings
    ) -> None:
        database = await fresh_database()
        async with database.session() as session:
            user = await create_user(session)
            await create_spotify_token(session, user=user)
        app = SpotifyMCPApp(api_settings, database=database).app
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        ) as client:
            responses = await asyncio.gather(
                *(
                    client.post(f"/admin/users/{user.id}/trigger-sync", headers=ADMIN)
                    for _ in range(6)
                )
            )
        codes = sorted(response.status_code for response in responses)
        assert codes == [202, 409, 409, 409, 409, 409], [r.text for r in responses]
        async with database.session() as session:
            polls = await session.scalar(
                select(func.count()).select_from(JobRun).where(JobRun.job_type == JobType.POLL)
            )
        assert polls == 1


class TestUploadRace:
    async def test_the_same_archive_uploaded_at_once_is_imported_once(
        self, fresh_database: FreshDatabase, api_settings: AppSettings, import_dir: Path
    ) -> None:
        database = await fresh_database()
        async with database.session() as session:
            user = await create_user(session)
        app = SpotifyMCPApp(api_settings, database=database).app
        archive = make_zip()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        ) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"/admin/users/{user.id}/imports",
                        headers=ADMIN,
                        files={"file": ("export.zip", archive, "application/zip")},
                    )
                    for _ in range(4)
                )
            )
        codes = sorted(response.status_code for response in responses)
        assert codes == [201, 409, 409, 409], [r.text for r in responses]
        async with database.session() as session:
            imports = await session.scalar(select(func.count()).select_from(ImportJob))
        assert imports == 1
        assert len(files_under(import_dir)) == 1
