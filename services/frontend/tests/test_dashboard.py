"""The dashboard: counts, sync health, re-authorisation links, errors, last jobs and imports."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import ImportStatus, JobStatus, JobType, UserStatus
from testkit.factories import (
    create_checkpoint,
    create_import_job,
    create_job_run,
    create_log_entry,
    create_user,
)


class TestDashboard:
    async def test_counts_users_by_status_and_jobs_by_state(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session)
        await create_user(db_session)
        await create_user(db_session, status=UserStatus.PAUSED)
        await create_job_run(db_session, status=JobStatus.FAILED, error_message="boom")
        await create_job_run(db_session, status=JobStatus.PENDING)

        page = await admin.get("/")

        assert page.status_code == 200
        tiles = {
            label: int(value)
            for value, label in re.findall(
                r'tile-value">(\d+)</span><span class="tile-label">([^<]+)<', page.text
            )
        }
        assert tiles["users"] == 3
        assert tiles["active"] == 2
        assert tiles["paused"] == 1
        assert tiles["jobs failed"] == 1
        assert tiles["jobs queued"] == 1

    async def test_lists_users_needing_reauthorisation_with_the_link(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(
            db_session,
            display_name="Revoked Listener",
            status=UserStatus.REAUTH_REQUIRED,
            status_reason="Spotify refused the refresh token",
        )

        page = await admin.get("/")

        assert "Needs to log in again" in page.text
        assert f'href="/users/{user.id}">Revoked Listener' in page.text
        assert "Spotify refused the refresh token" in page.text
        assert 'href="http://127.0.0.1:8000/auth/login">Re-authorise' in page.text

    async def test_shows_sync_health_recent_errors_jobs_and_imports(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, display_name="Polled Listener")
        await create_checkpoint(
            db_session, user=user, consecutive_failures=2, last_error="Spotify answered 502"
        )
        await create_log_entry(
            db_session, level="ERROR", message="poll failed for a user", request_id="req-abc"
        )
        await create_job_run(db_session, job_type=JobType.INITIAL_SYNC, user_id=user.id)
        await create_import_job(
            db_session,
            user=user,
            original_filename="my_spotify_data.zip",
            status=ImportStatus.RUNNING,
            records_total=200,
            records_processed=50,
        )

        page = await admin.get("/")

        assert "Polled Listener" in page.text
        assert "Spotify answered 502" in page.text
        assert "poll failed for a user" in page.text
        assert 'href="/logs?request_id=req-abc"' in page.text
        assert "initial sync" in page.text
        assert "my_spotify_data.zip" in page.text
        assert 'value="25.0"' in page.text  # the running import's progress bar

    async def test_its_body_refreshes_itself_through_a_partial(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        page = await admin.get("/")
        assert 'hx-get="/partials/dashboard"' in page.text
        assert 'hx-trigger="every 10s"' in page.text
        await create_user(db_session, display_name="Arrived Later")

        partial = await admin.get("/partials/dashboard", headers={"HX-Request": "true"})

        assert partial.status_code == 200
        assert partial.text.lstrip().startswith('<div id="dashboard"')
        assert "<html" not in partial.text
        assert "Arrived Later" in partial.text

    async def test_an_empty_system_says_where_listeners_connect(
        self, admin: httpx.AsyncClient
    ) -> None:
        page = await admin.get("/")
        assert "No users yet" in page.text
        assert "No errors logged." in page.text

    async def test_finds_users_to_reauthorise_beyond_the_first_page(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        for _ in range(50):
            await create_user(db_session)
        late = await create_user(
            db_session, display_name="Fifty-first", status=UserStatus.REAUTH_REQUIRED
        )

        page = await admin.get("/")

        assert "50 of 51 users shown" in page.text
        reauth = page.text.split("Needs to log in again", 1)[1].split("</section>", 1)[0]
        assert f'href="/users/{late.id}">Fifty-first' in reauth
