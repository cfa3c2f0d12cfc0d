"""Jobs, imports and logs: filters, pages, live progress, auto-refresh and the purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import ImportStatus, JobStatus, JobType
from shared.db.models import ImportJob, LogEntry
from testkit.factories import create_import_job, create_job_run, create_log_entry, create_user

from .conftest import csrf_of
from .test_users_pages import export_zip


class TestJobs:
    async def test_filters_by_user_type_and_status(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        wanted = await create_job_run(
            db_session,
            user_id=user.id,
            job_type=JobType.INITIAL_SYNC,
            status=JobStatus.FAILED,
            error_message="the wanted failure",
        )
        await create_job_run(db_session, user_id=user.id, status=JobStatus.FAILED)
        await create_job_run(db_session, job_type=JobType.INITIAL_SYNC, status=JobStatus.FAILED)

        page = await admin.get(f"/jobs?user_id={user.id}&job_type=initial_sync&status=failed")

        assert page.status_code == 200
        assert page.text.count('<tr class="row-bad">') == 1
        assert f"<td>{wanted.id}</td>" in page.text
        assert "the wanted failure" in page.text
        assert 'option value="initial_sync" selected' in page.text

    async def test_pages_newest_first(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        jobs = [await create_job_run(db_session) for _ in range(27)]

        first = await admin.get("/jobs")
        second = await admin.get("/jobs?offset=25")

        assert f"<td>{jobs[-1].id}</td>" in first.text
        assert f"<td>{jobs[0].id}</td>" not in first.text
        assert 'href="/jobs?offset=25"' in first.text
        assert f"<td>{jobs[0].id}</td>" in second.text
        assert 'href="/jobs"' in second.text  # back to the first page


class TestImports:
    async def test_filters_by_status_and_shows_progress_bars(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_import_job(
            db_session,
            user=user,
            original_filename="running.zip",
            status=ImportStatus.RUNNING,
            records_total=1000,
            records_processed=400,
        )
        await create_import_job(
            db_session, user=user, original_filename="done.zip", status=ImportStatus.SUCCEEDED
        )

        running = await admin.get("/imports?status=running")

        assert "running.zip" in running.text
        assert "done.zip" not in running.text
        assert '<progress max="100" value="40.0"' in running.text
        assert 'hx-get="/partials/imports?status=running"' in running.text  # live while running

    async def test_the_table_stops_refreshing_when_nothing_runs(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_import_job(db_session, user=user, status=ImportStatus.SUCCEEDED)

        table = await admin.get("/partials/imports", headers={"HX-Request": "true"})

        assert table.status_code == 200
        assert table.text.lstrip().startswith('<div id="imports-table">')

    async def test_progress_is_polled_until_the_import_ends(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        job = await create_import_job(
            db_session, user=user, status=ImportStatus.RUNNING, records_total=10
        )
        url = f"/partials/imports/{job.id}/progress"

        live = await admin.get(url, headers={"HX-Request": "true"})
        assert f'hx-get="{url}"' in live.text
        assert 'data-status="running"' in live.text

        job.status = ImportStatus.SUCCEEDED
        job.records_processed = 10
        job.records_inserted = 9
        job.records_duplicate = 1
        job.finished_at = datetime.now(UTC)
        await db_session.flush()
        finished = await admin.get(url, headers={"HX-Request": "true"})

        assert "hx-get" not in finished.text
        assert 'data-status="succeeded"' in finished.text
        assert '<progress max="100" value="100.0"' in finished.text

    async def test_upload_from_the_imports_page_for_a_chosen_user(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session, display_name="Not This One")
        user = await create_user(db_session, display_name="Chosen")
        page = await admin.get("/imports")
        assert f'<option value="{user.id}"' in page.text

        response = await admin.post(
            "/imports",
            data={"csrf_token": csrf_of(page.text), "user_id": str(user.id)},
            files={"file": ("export.zip", export_zip(), "application/zip")},
        )

        assert response.status_code == 303
        job = await db_session.scalar(select(ImportJob))
        assert job is not None
        assert job.user_id == user.id

    async def test_an_unknown_import_is_a_404_page(self, admin: httpx.AsyncClient) -> None:
        assert (await admin.get("/imports/424242")).status_code == 404


class TestLogs:
    async def test_filters_by_request_id_and_text(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_log_entry(db_session, message="token refreshed", request_id="req-one")
        await create_log_entry(db_session, message="token refresh failed", request_id="req-two")
        await create_log_entry(db_session, message="unrelated", request_id="req-one")

        by_request = await admin.get("/logs?request_id=req-one")
        by_text = await admin.get("/logs?text=REFRESH")

        assert "token refreshed" in by_request.text
        assert "unrelated" in by_request.text
        assert "token refresh failed" not in by_request.text
        assert "token refreshed" in by_text.text
        assert "token refresh failed" in by_text.text
        assert "unrelated" not in by_text.text

    async def test_filters_by_level_service_and_time(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_log_entry(db_session, service="collector", level="ERROR", message="bad poll")
        await create_log_entry(db_session, service="api", level="ERROR", message="bad request")
        await create_log_entry(db_session, service="collector", level="INFO", message="fine poll")
        await create_log_entry(
            db_session,
            service="collector",
            level="ERROR",
            message="ancient poll",
            created_at=datetime.now(UTC) - timedelta(days=3),
        )
        since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

        page = await admin.get(f"/logs?service=collector&level=WARNING&since={since}")

        assert "bad poll" in page.text
        assert "bad request" not in page.text
        assert "fine poll" not in page.text
        assert "ancient poll" not in page.text

    async def test_the_first_page_refreshes_itself_and_later_pages_do_not(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        for n in range(30):
            await create_log_entry(db_session, message=f"line {n}")

        first = await admin.get("/logs?level=INFO")
        later = await admin.get("/partials/logs?level=INFO&offset=25")

        assert 'hx-get="/partials/logs?level=INFO"' in first.text
        assert 'hx-trigger="every 5s"' in first.text
        assert "hx-trigger" not in later.text
        assert "line 0" in later.text

    async def test_purge_needs_the_confirmation(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_log_entry(db_session)
        page = await admin.get("/logs")

        response = await admin.post(
            "/logs/purge", data={"csrf_token": csrf_of(page.text), "keep_days": "all"}
        )

        assert response.status_code == 303
        assert await db_session.scalar(select(func.count()).select_from(LogEntry)) == 1

    async def test_purge_keeps_the_recent_lines_when_asked(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_log_entry(db_session, message="recent line")
        await create_log_entry(
            db_session, message="old line", created_at=datetime.now(UTC) - timedelta(days=40)
        )
        page = await admin.get("/logs")

        response = await admin.post(
            "/logs/purge",
            data={"csrf_token": csrf_of(page.text), "keep_days": "30", "confirm": "yes"},
        )

        assert response.status_code == 303
        messages = list(await db_session.scalars(select(LogEntry.message)))
        assert messages == ["recent line"]
        after = await admin.get("/logs")
        assert "Deleted 1 log lines (those older than 30 days)." in after.text
