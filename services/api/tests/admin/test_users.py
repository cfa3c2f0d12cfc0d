"""Admin users: list, detail, pause, resume, trigger-sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import InitialSyncStatus, JobStatus, JobType, UserStatus
from shared.db.models import JobRun
from testkit.factories import (
    create_checkpoint,
    create_job_run,
    create_play,
    create_spotify_token,
    create_track,
    create_user,
)

from .conftest import ADMIN


class TestListUsers:
    async def test_lists_every_user_as_a_page(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        users = [await create_user(db_session) for _ in range(3)]

        response = await client.get("/admin/users", headers=ADMIN)

        assert response.status_code == 200
        body = response.json()
        assert body["total"] == 3
        assert (body["limit"], body["offset"]) == (50, 0)
        assert [item["id"] for item in body["items"]] == [user.id for user in users]
        assert body["items"][0]["spotify_user_id"] == users[0].spotify_user_id

    async def test_limit_and_offset_page_through_with_the_full_total(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        users = [await create_user(db_session) for _ in range(5)]

        response = await client.get("/admin/users?limit=2&offset=2", headers=ADMIN)

        body = response.json()
        assert body["total"] == 5
        assert (body["limit"], body["offset"]) == (2, 2)
        assert [item["id"] for item in body["items"]] == [users[2].id, users[3].id]

    async def test_an_offset_past_the_end_is_an_empty_page(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session)

        response = await client.get("/admin/users?offset=1000", headers=ADMIN)

        assert response.status_code == 200
        assert (response.json()["items"], response.json()["total"]) == ([], 1)
        huge = await client.get(f"/admin/users?offset={10**20}", headers=ADMIN)
        assert huge.status_code == 422

    async def test_filters_by_status(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session)
        paused = await create_user(db_session, status=UserStatus.PAUSED)

        response = await client.get("/admin/users?status=paused", headers=ADMIN)

        body = response.json()
        assert body["total"] == 1
        assert body["items"][0]["id"] == paused.id

    async def test_q_matches_display_name_or_spotify_id_case_insensitively(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        by_name = await create_user(db_session, display_name="Ada Lovelace")
        by_id = await create_user(db_session, spotify_user_id="lovelace-fan")
        await create_user(db_session, display_name="Someone Else")

        response = await client.get("/admin/users?q=LOVELACE", headers=ADMIN)

        assert {item["id"] for item in response.json()["items"]} == {by_name.id, by_id.id}

    async def test_q_treats_like_wildcards_literally(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session, display_name="100% Listener")
        await create_user(db_session, display_name="100 Listener")

        response = await client.get("/admin/users", params={"q": "0%"}, headers=ADMIN)

        assert [item["display_name"] for item in response.json()["items"]] == ["100% Listener"]

    async def test_unknown_status_is_a_validation_error(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/admin/users?status=sleeping", headers=ADMIN)
        assert response.status_code == 422


class TestUserDetail:
    async def test_detail_has_plays_token_expiry_and_sync_state_but_no_token(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        first = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
        last = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
        for played_at in (last, first, first + timedelta(days=1)):
            await create_play(db_session, user=user, track=track, played_at=played_at)
        expires = datetime.now(UTC) + timedelta(minutes=30)
        token = await create_spotify_token(db_session, user=user, expires_at=expires)
        await create_checkpoint(
            db_session,
            user=user,
            initial_sync_status=InitialSyncStatus.DONE,
            last_success_at=last,
            consecutive_failures=2,
            last_error="Spotify answered 503",
        )

        response = await client.get(f"/admin/users/{user.id}", headers=ADMIN)

        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "active"
        assert body["plays"]["count"] == 3
        assert datetime.fromisoformat(body["plays"]["first_played_at"]) == first
        assert datetime.fromisoformat(body["plays"]["last_played_at"]) == last
        assert body["token"]["stored"] is True
        assert body["token"]["expired"] is False
        assert datetime.fromisoformat(body["token"]["expires_at"]) == expires
        assert body["sync"]["initial_sync_status"] == "done"
        assert body["sync"]["consecutive_failures"] == 2
        assert body["sync"]["last_error"] == "Spotify answered 503"
        assert token.access_token_encrypted not in response.text
        assert token.refresh_token_encrypted not in response.text

    async def test_user_without_plays_token_or_checkpoint(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        body = (await client.get(f"/admin/users/{user.id}", headers=ADMIN)).json()

        assert body["plays"] == {"count": 0, "first_played_at": None, "last_played_at": None}
        assert body["token"]["stored"] is False
        assert body["sync"] is None

    async def test_unknown_user_is_404_in_the_error_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/admin/users/999999", headers=ADMIN)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_an_id_beyond_the_column_range_is_a_validation_error(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(f"/admin/users/{2**40}", headers=ADMIN)
        assert response.status_code == 422


class TestPauseAndResume:
    async def test_pause_then_resume(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)

        paused = await client.post(f"/admin/users/{user.id}/pause", headers=ADMIN)
        assert paused.status_code == 200
        assert paused.json()["status"] == "paused"
        assert paused.json()["status_reason"]

        resumed = await client.post(f"/admin/users/{user.id}/resume", headers=ADMIN)
        assert resumed.status_code == 200
        assert resumed.json()["status"] == "active"
        assert resumed.json()["status_reason"] is None
        await db_session.refresh(user)
        assert user.status is UserStatus.ACTIVE

    async def test_resuming_a_user_needing_reauthorisation_is_refused(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(
            db_session, status=UserStatus.REAUTH_REQUIRED, status_reason="invalid_grant"
        )
        await create_spotify_token(db_session, user=user)

        response = await client.post(f"/admin/users/{user.id}/resume", headers=ADMIN)

        assert response.status_code == 409
        assert "log in" in response.json()["error"]["message"]
        await db_session.refresh(user)
        assert user.status is UserStatus.REAUTH_REQUIRED

    async def test_pausing_a_user_needing_reauthorisation_is_refused(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, status=UserStatus.REAUTH_REQUIRED)

        response = await client.post(f"/admin/users/{user.id}/pause", headers=ADMIN)

        assert response.status_code == 409
        await db_session.refresh(user)
        assert user.status is UserStatus.REAUTH_REQUIRED

    async def test_resuming_a_user_without_tokens_is_refused(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, status=UserStatus.PAUSED)

        response = await client.post(f"/admin/users/{user.id}/resume", headers=ADMIN)

        assert response.status_code == 409
        await db_session.refresh(user)
        assert user.status is UserStatus.PAUSED

    async def test_pause_of_an_unknown_user_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/admin/users/999999/pause", headers=ADMIN)
        assert response.status_code == 404


class TestTriggerSync:
    async def test_enqueues_a_pending_poll_for_the_collector(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)

        response = await client.post(f"/admin/users/{user.id}/trigger-sync", headers=ADMIN)

        assert response.status_code == 202
        body = response.json()
        assert (body["job_type"], body["status"], body["user_id"]) == ("poll", "pending", user.id)
        job = await db_session.get(JobRun, body["id"])
        assert job is not None
        assert job.status is JobStatus.PENDING

    async def test_a_queued_or_running_poll_is_named_in_the_409(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)
        running = await create_job_run(db_session, user_id=user.id, status=JobStatus.RUNNING)

        response = await client.post(f"/admin/users/{user.id}/trigger-sync", headers=ADMIN)

        assert response.status_code == 409
        assert f"job run {running.id}" in response.json()["error"]["message"]
        jobs = (await db_session.scalars(select(JobRun).where(JobRun.user_id == user.id))).all()
        assert len(jobs) == 1

    async def test_a_second_trigger_conflicts_with_the_first(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)

        first = await client.post(f"/admin/users/{user.id}/trigger-sync", headers=ADMIN)
        second = await client.post(f"/admin/users/{user.id}/trigger-sync", headers=ADMIN)

        assert second.status_code == 409
        assert f"job run {first.json()['id']}" in second.json()["error"]["message"]

    async def test_finished_polls_and_other_job_types_do_not_block(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)
        await create_job_run(db_session, user_id=user.id, status=JobStatus.SUCCEEDED)
        await create_job_run(db_session, user_id=user.id, job_type=JobType.INITIAL_SYNC)

        response = await client.post(f"/admin/users/{user.id}/trigger-sync", headers=ADMIN)

        assert response.status_code == 202

    async def test_paused_and_reauth_users_are_refused_with_the_reason(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        paused = await create_user(db_session, status=UserStatus.PAUSED)
        reauth = await create_user(db_session, status=UserStatus.REAUTH_REQUIRED)
        for user in (paused, reauth):
            await create_spotify_token(db_session, user=user)

        to_paused = await client.post(f"/admin/users/{paused.id}/trigger-sync", headers=ADMIN)
        to_reauth = await client.post(f"/admin/users/{reauth.id}/trigger-sync", headers=ADMIN)

        assert to_paused.status_code == 409
        assert "paused" in to_paused.json()["error"]["message"]
        assert to_reauth.status_code == 409
        assert "re-authorisation" in to_reauth.json()["error"]["message"]
        assert await db_session.scalar(select(JobRun.id)) is None

    async def test_unknown_user_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/admin/users/999999/trigger-sync", headers=ADMIN)
        assert response.status_code == 404


class TestUserBodiesCarryNoSecrets:
    async def test_list_and_detail_never_include_token_ciphertext(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, status_reason="contact me at a@example.com")
        token = await create_spotify_token(db_session, user=user)

        for path in ("/admin/users", f"/admin/users/{user.id}"):
            text = (await client.get(path, headers=ADMIN)).text
            assert token.access_token_encrypted not in text
            assert token.refresh_token_encrypted not in text
            assert "a@example.com" not in text
