"""Admin job runs list and sync-status summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import InitialSyncStatus, JobStatus, JobType, UserStatus
from testkit.factories import create_checkpoint, create_job_run, create_user

from .conftest import ADMIN

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


class TestJobRuns:
    async def test_newest_first_with_filters_and_pages(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        other = await create_user(db_session)
        old_poll = await create_job_run(
            db_session, user_id=user.id, status=JobStatus.SUCCEEDED, created_at=T0
        )
        failed_sync = await create_job_run(
            db_session,
            user_id=user.id,
            job_type=JobType.INITIAL_SYNC,
            status=JobStatus.FAILED,
            error_message="Spotify answered 500",
            created_at=T0 + timedelta(minutes=1),
        )
        their_poll = await create_job_run(
            db_session, user_id=other.id, created_at=T0 + timedelta(minutes=2)
        )

        async def ids(query: str) -> list[int]:
            response = await client.get(f"/admin/jobs{query}", headers=ADMIN)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        assert await ids("") == [their_poll.id, failed_sync.id, old_poll.id]
        assert await ids(f"?user_id={user.id}") == [failed_sync.id, old_poll.id]
        assert await ids("?job_type=poll") == [their_poll.id, old_poll.id]
        assert await ids("?status=failed") == [failed_sync.id]
        assert await ids(f"?user_id={user.id}&job_type=poll") == [old_poll.id]
        page = (await client.get("/admin/jobs?limit=1&offset=2", headers=ADMIN)).json()
        assert (page["total"], [item["id"] for item in page["items"]]) == (3, [old_poll.id])

    async def test_a_job_shows_its_error_and_counts(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_job_run(
            db_session,
            user_id=user.id,
            status=JobStatus.FAILED,
            records_fetched=50,
            records_inserted=48,
            error_message="refresh failed for listener@example.com from 203.0.113.9",
        )

        item = (await client.get("/admin/jobs", headers=ADMIN)).json()["items"][0]

        assert (item["records_fetched"], item["records_inserted"]) == (50, 48)
        assert item["error_message"].startswith("refresh failed")
        assert "listener@example.com" not in item["error_message"]
        assert "203.0.113.9" not in item["error_message"]

    async def test_unknown_job_type_is_a_validation_error(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/admin/jobs?job_type=dance", headers=ADMIN)
        assert response.status_code == 422


class TestSyncStatus:
    async def test_each_users_polling_state_and_counts_by_status(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        polled = await create_user(db_session)
        await create_checkpoint(
            db_session,
            user=polled,
            initial_sync_status=InitialSyncStatus.DONE,
            last_poll_completed_at=T0,
            last_success_at=T0 - timedelta(hours=1),
            next_poll_at=T0 + timedelta(minutes=10),
            deferred_until=T0 + timedelta(hours=2),
            consecutive_failures=3,
            last_error="429: retry after 7200 s",
        )
        revoked = await create_user(
            db_session, status=UserStatus.REAUTH_REQUIRED, status_reason="Spotify: invalid_grant"
        )
        await create_user(db_session, status=UserStatus.REAUTH_REQUIRED)

        response = await client.get("/admin/sync-status", headers=ADMIN)

        assert response.status_code == 200
        body = response.json()
        assert body["counts_by_status"] == {
            "active": 1,
            "paused": 0,
            "reauth_required": 2,
            "error": 0,
        }
        assert body["total"] == 3
        first, second = body["items"][:2]
        assert first["user_id"] == polled.id
        assert first["initial_sync_status"] == "done"
        assert datetime.fromisoformat(first["last_poll_at"]) == T0
        assert datetime.fromisoformat(first["last_success_at"]) == T0 - timedelta(hours=1)
        assert datetime.fromisoformat(first["next_poll_at"]) == T0 + timedelta(minutes=10)
        assert datetime.fromisoformat(first["deferred_until"]) == T0 + timedelta(hours=2)
        assert first["consecutive_failures"] == 3
        assert first["last_error"] == "429: retry after 7200 s"
        assert second["user_id"] == revoked.id
        assert second["status"] == "reauth_required"
        assert second["status_reason"] == "Spotify: invalid_grant"
        assert second["last_poll_at"] is None
        assert second["consecutive_failures"] == 0

    async def test_filter_by_status_and_page_keep_the_overall_counts(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session)
        paused = [await create_user(db_session, status=UserStatus.PAUSED) for _ in range(3)]

        body = (
            await client.get("/admin/sync-status?status=paused&limit=2&offset=1", headers=ADMIN)
        ).json()

        assert body["total"] == 3
        assert (body["limit"], body["offset"]) == (2, 1)
        assert [item["user_id"] for item in body["items"]] == [paused[1].id, paused[2].id]
        assert body["counts_by_status"]["active"] == 1
        assert body["counts_by_status"]["paused"] == 3
