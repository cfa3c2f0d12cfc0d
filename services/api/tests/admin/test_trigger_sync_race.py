"""Two simultaneous trigger-syncs for one user enqueue one poll, on both databases."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from app.main import SpotifyMCPApp
from app.settings import AppSettings
from shared.db.enums import JobType
from shared.db.models import JobRun
from testkit.factories import create_spotify_token, create_user
from testkit.plugin import FreshDatabase

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
