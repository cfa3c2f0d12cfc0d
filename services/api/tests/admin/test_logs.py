"""Admin logs: search with filters, newest first, and purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import LogEntry
from testkit.factories import create_log_entry

from .conftest import ADMIN

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


async def _ids(client: httpx.AsyncClient, **params: str | int) -> list[int]:
    response = await client.get("/admin/logs", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


class TestLogSearch:
    async def test_newest_first_with_every_filter(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        debug = await create_log_entry(
            db_session, level="DEBUG", message="Polling user", user_id=1, created_at=T0
        )
        warning = await create_log_entry(
            db_session,
            service="collector",
            level="WARNING",
            message="Spotify asked to WAIT 7200 s",
            user_id=1,
            request_id="req-abc",
            created_at=T0 + timedelta(minutes=1),
        )
        error = await create_log_entry(
            db_session,
            level="ERROR",
            message="Import failed",
            user_id=2,
            created_at=T0 + timedelta(minutes=2),
        )

        assert await _ids(client) == [error.id, warning.id, debug.id]
        assert await _ids(client, service="collector") == [warning.id]
        assert await _ids(client, level="WARNING") == [error.id, warning.id]
        assert await _ids(client, level="DEBUG") == [error.id, warning.id, debug.id]
        assert await _ids(client, user_id=1) == [warning.id, debug.id]
        assert await _ids(client, request_id="req-abc") == [warning.id]
        assert await _ids(client, text="wait") == [warning.id]
        assert await _ids(client, since=(T0 + timedelta(minutes=1)).isoformat()) == [
            error.id,
            warning.id,
        ]
        assert await _ids(client, level="ERROR", user_id=1) == []

    async def test_text_is_literal_and_case_insensitive(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        percent = await create_log_entry(db_session, message="Import 100% DONE")
        await create_log_entry(db_session, message="Import 1000 done")
        underscore = await create_log_entry(db_session, message="user_id missing")
        await create_log_entry(db_session, message="userXid missing")

        assert await _ids(client, text="0% done") == [percent.id]
        assert await _ids(client, text="USER_ID") == [underscore.id]

    async def test_a_since_without_time_zone_means_utc(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_log_entry(db_session, created_at=T0)
        later = await create_log_entry(db_session, created_at=T0 + timedelta(hours=1))

        assert await _ids(client, since="2026-02-01T09:30:00") == [later.id]

    async def test_pages_carry_the_total(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        entries = [
            await create_log_entry(db_session, created_at=T0 + timedelta(seconds=n))
            for n in range(5)
        ]

        body = (await client.get("/admin/logs?limit=2&offset=1", headers=ADMIN)).json()

        assert body["total"] == 5
        assert [item["id"] for item in body["items"]] == [entries[3].id, entries[2].id]

    async def test_unknown_level_is_a_validation_error(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/admin/logs?level=LOUD", headers=ADMIN)
        assert response.status_code == 422

    async def test_lines_are_shown_without_emails_ips_or_tokens(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_log_entry(
            db_session,
            message="login of someone@example.com from 198.51.100.23",
            extra={"refresh_token": "sentinel-refresh-value", "note": "kept"},
        )

        response = await client.get("/admin/logs", headers=ADMIN)

        assert "someone@example.com" not in response.text
        assert "198.51.100.23" not in response.text
        assert "sentinel-refresh-value" not in response.text
        assert response.json()["items"][0]["extra"]["note"] == "kept"


class TestLogPurge:
    async def test_purge_before_a_time_keeps_newer_lines(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        for minutes in (0, 1, 2):
            await create_log_entry(db_session, created_at=T0 + timedelta(minutes=minutes))
        newest = await create_log_entry(db_session, created_at=T0 + timedelta(minutes=10))

        response = await client.delete(
            "/admin/logs",
            params={"before": (T0 + timedelta(minutes=5)).isoformat()},
            headers=ADMIN,
        )

        assert response.status_code == 200
        assert response.json() == {"deleted": 3}
        assert (await db_session.scalars(select(LogEntry.id))).all() == [newest.id]

    async def test_purge_without_before_deletes_everything(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        for _ in range(4):
            await create_log_entry(db_session)

        response = await client.delete("/admin/logs", headers=ADMIN)

        assert response.json() == {"deleted": 4}
        assert await db_session.scalar(select(func.count(LogEntry.id))) == 0
