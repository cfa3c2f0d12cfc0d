"""Users: the filtered list, a user's page, and pause, resume, sync, delete, tokens, uploads."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import JobStatus, JobType, UserStatus
from shared.db.models import ApiToken, ImportJob, JobRun, User
from testkit.factories import (
    create_checkpoint,
    create_play,
    create_spotify_token,
    create_track,
    create_user,
)

from .conftest import csrf_of


def export_zip() -> bytes:
    """A small extended-history export."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "Spotify Extended Streaming History/Streaming_History_Audio_2024.json",
            '[{"ts": "2024-01-01T10:00:00Z", "ms_played": 200000, '
            '"master_metadata_track_name": "Song", '
            '"master_metadata_album_artist_name": "Band", '
            '"spotify_track_uri": "spotify:track:0123456789abcdefghijkl"}]',
        )
    return buffer.getvalue()


async def _csrf(admin: httpx.AsyncClient, path: str = "/") -> str:
    return csrf_of((await admin.get(path)).text)


async def _status(session: AsyncSession, user: User) -> UserStatus:
    await session.refresh(user)
    return user.status


class TestUsersList:
    async def test_filters_by_text_and_status(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session, display_name="Ada Lovelace")
        await create_user(db_session, display_name="Alan Turing", status=UserStatus.PAUSED)

        by_text = await admin.get("/users?q=lovelace&status=")
        by_status = await admin.get("/users?status=paused")

        assert "Ada Lovelace" in by_text.text
        assert "Alan Turing" not in by_text.text
        assert "Alan Turing" in by_status.text
        assert "Ada Lovelace" not in by_status.text

    async def test_pages_through_with_the_filters_kept(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        for n in range(30):
            await create_user(db_session, display_name=f"Paged {n:02d}")

        first = await admin.get("/users?q=Paged")
        second = await admin.get("/users?q=Paged&offset=25")

        assert first.text.count('href="/analytics/') == 25
        assert "1\u201325 of 30" in first.text
        assert 'href="/users?q=Paged&amp;offset=25"' in first.text
        assert second.text.count('href="/analytics/') == 5
        assert "Paged 29" in second.text

    async def test_malformed_filters_are_ignored_not_an_error(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await create_user(db_session, display_name="Still Listed")
        page = await admin.get("/users?status=bogus&offset=-3")
        assert page.status_code == 200
        assert "Still Listed" in page.text


class TestUserDetail:
    async def test_shows_profile_sync_state_and_token_expiry(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, display_name="Grace", timezone="Europe/Stockholm")
        expires = datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
        await create_spotify_token(db_session, user=user, expires_at=expires)
        await create_checkpoint(db_session, user=user, last_error="rate limited by Spotify")
        track = await create_track(db_session)
        await create_play(db_session, user=user, track=track)

        page = await admin.get(f"/users/{user.id}")

        assert page.status_code == 200
        assert "Europe/Stockholm" in page.text
        assert "2031-05-06 07:08 UTC" in page.text
        assert "rate limited by Spotify" in page.text
        assert "<dt>Plays</dt><dd>1</dd>" in page.text
        assert f'href="/analytics/{user.id}"' in page.text

    async def test_an_unknown_user_is_a_404_page(self, admin: httpx.AsyncClient) -> None:
        page = await admin.get("/users/999999")
        assert page.status_code == 404
        assert "Not found" in page.text

    async def test_an_impossible_id_is_a_400_page(self, admin: httpx.AsyncClient) -> None:
        page = await admin.get("/users/abc")
        assert page.status_code == 400

    async def test_expiry_in_the_past_says_expired(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(
            db_session, user=user, expires_at=datetime.now(UTC) - timedelta(minutes=5)
        )
        page = await admin.get(f"/users/{user.id}")
        assert "expired; renewed at the next poll" in page.text


class TestUserActions:
    async def test_pause_and_resume_by_form_change_the_stored_status(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)
        token = await _csrf(admin, f"/users/{user.id}")

        paused = await admin.post(f"/users/{user.id}/pause", data={"csrf_token": token})

        assert paused.status_code == 303
        assert paused.headers["location"] == f"/users/{user.id}"
        assert await _status(db_session, user) is UserStatus.PAUSED
        page = await admin.get(f"/users/{user.id}")
        assert "Polling paused." in page.text
        assert f'action="/users/{user.id}/resume"' in page.text

        resumed = await admin.post(f"/users/{user.id}/resume", data={"csrf_token": token})

        assert resumed.status_code == 303
        assert await _status(db_session, user) is UserStatus.ACTIVE

    async def test_htmx_pause_answers_the_refreshed_controls(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        token = await _csrf(admin, f"/users/{user.id}")

        response = await admin.post(
            f"/users/{user.id}/pause", headers={"HX-Request": "true", "X-CSRF-Token": token}
        )

        assert response.status_code == 200
        assert response.text.lstrip().startswith('<section id="user-controls"')
        assert "Polling paused." in response.text
        assert "badge-paused" in response.text

    async def test_trigger_sync_queues_a_poll(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)
        token = await _csrf(admin)

        response = await admin.post(f"/users/{user.id}/trigger-sync", data={"csrf_token": token})

        assert response.status_code == 303
        queued = await db_session.scalar(
            select(func.count())
            .select_from(JobRun)
            .where(
                JobRun.user_id == user.id,
                JobRun.job_type == JobType.POLL,
                JobRun.status == JobStatus.PENDING,
            )
        )
        assert queued == 1

    async def test_a_refused_action_shows_the_apis_reason(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, status=UserStatus.REAUTH_REQUIRED)
        token = await _csrf(admin)

        response = await admin.post(f"/users/{user.id}/resume", data={"csrf_token": token})

        page = await admin.get(response.headers["location"])
        assert "flash-error" in page.text
        assert "must log in with Spotify again" in page.text
        await db_session.refresh(user)
        assert user.status is UserStatus.REAUTH_REQUIRED


class TestDeleteUser:
    async def test_asks_for_the_spotify_id_and_keeps_the_user_on_a_mismatch(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, spotify_user_id="keep-me")
        confirm = await admin.get(f"/users/{user.id}/delete")
        assert "Type the Spotify ID" in confirm.text

        response = await admin.post(
            f"/users/{user.id}/delete",
            data={"csrf_token": csrf_of(confirm.text), "confirm": "someone-else"},
        )

        assert response.status_code == 400
        assert "nothing was deleted" in response.text
        assert await db_session.get(User, user.id) is not None

    async def test_deletes_once_the_typed_id_matches(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, spotify_user_id="delete-me", display_name="Gone")
        user_id = user.id
        confirm = await admin.get(f"/users/{user_id}/delete")

        response = await admin.post(
            f"/users/{user_id}/delete",
            data={"csrf_token": csrf_of(confirm.text), "confirm": "delete-me"},
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/users"
        db_session.expunge_all()
        assert await db_session.get(User, user_id) is None
        listing = await admin.get("/users")
        assert "Deleted Gone: 0 plays" in listing.text


class TestToolTokens:
    async def test_a_created_token_is_shown_once_then_only_its_prefix(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        token = await _csrf(admin, f"/users/{user.id}")

        created = await admin.post(
            f"/users/{user.id}/tokens", data={"csrf_token": token, "name": "Claude desktop"}
        )

        assert created.status_code == 200
        secret = re.search(r'id="issued-token" readonly value="([^"]+)"', created.text)
        assert secret is not None
        assert secret.group(1).startswith("smcp_")
        assert created.headers["cache-control"] == "no-store"
        detail = await admin.get(f"/users/{user.id}")
        assert "Claude desktop" in detail.text
        assert secret.group(1) not in detail.text
        assert secret.group(1)[:12] in detail.text  # the prefix identifies it

    async def test_revoking_a_token_marks_it_revoked(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        token = await _csrf(admin, f"/users/{user.id}")
        await admin.post(f"/users/{user.id}/tokens", data={"csrf_token": token, "name": "old"})
        row = await db_session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert row is not None

        response = await admin.post(
            f"/users/{user.id}/tokens/{row.id}/revoke", data={"csrf_token": token}
        )

        assert response.status_code == 303
        await db_session.refresh(row)
        assert row.revoked_at is not None
        detail = await admin.get(f"/users/{user.id}")
        assert "Token revoked" in detail.text
        assert "badge-revoked" in detail.text

    async def test_a_token_of_another_user_cannot_be_revoked_through_this_user(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        owner = await create_user(db_session)
        other = await create_user(db_session)
        token = await _csrf(admin)
        await admin.post(f"/users/{owner.id}/tokens", data={"csrf_token": token, "name": "t"})
        row = await db_session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
        assert row is not None

        response = await admin.post(
            f"/users/{other.id}/tokens/{row.id}/revoke", data={"csrf_token": token}
        )

        assert response.status_code == 404
        await db_session.refresh(row)
        assert row.revoked_at is None

    async def test_a_token_needs_a_name(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        token = await _csrf(admin)
        response = await admin.post(
            f"/users/{user.id}/tokens", data={"csrf_token": token, "name": "  "}
        )
        assert response.status_code == 303
        count = await db_session.scalar(select(func.count()).select_from(ApiToken))
        assert count == 0


class TestUpload:
    async def test_an_uploaded_export_is_queued_and_followed(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        token = await _csrf(admin, f"/users/{user.id}")

        response = await admin.post(
            f"/users/{user.id}/imports",
            data={"csrf_token": token},
            files={"file": ("my_spotify_data.zip", export_zip(), "application/zip")},
        )

        assert response.status_code == 303, response.text
        job = await db_session.scalar(select(ImportJob).where(ImportJob.user_id == user.id))
        assert job is not None
        assert job.original_filename == "my_spotify_data.zip"
        assert response.headers["location"] == f"/imports/{job.id}"
        page = await admin.get(response.headers["location"])
        assert "Uploaded my_spotify_data.zip" in page.text
        assert f'hx-get="/partials/imports/{job.id}/progress"' in page.text

    async def test_a_file_that_is_not_a_zip_is_refused_with_the_apis_reason(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        token = await _csrf(admin)

        response = await admin.post(
            f"/users/{user.id}/imports",
            data={"csrf_token": token},
            files={"file": ("notes.zip", b"just text", "application/zip")},
        )

        assert response.headers["location"] == f"/users/{user.id}"
        page = await admin.get(response.headers["location"])
        assert "notes.zip:" in page.text
        assert "flash-error" in page.text
        assert await db_session.scalar(select(func.count()).select_from(ImportJob)) == 0


class TestEveryFormCarriesTheToken:
    async def test_each_post_form_on_each_page_holds_the_sessions_csrf_token(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        await create_spotify_token(db_session, user=user)
        token = await _csrf(admin)
        await admin.post(f"/users/{user.id}/tokens", data={"csrf_token": token, "name": "t"})
        pages = ["/", "/users", f"/users/{user.id}", f"/users/{user.id}/delete", "/imports"]
        pages += ["/logs", "/jobs", f"/analytics/{user.id}"]

        forms_seen = 0
        for path in pages:
            page = await admin.get(path)
            assert page.status_code == 200, path
            for form in re.findall(r"<form\b[^>]*>.*?</form>", page.text, re.S):
                if 'method="post"' not in form:
                    continue
                forms_seen += 1
                assert f'name="csrf_token" value="{token}"' in form, (path, form[:200])
        # logout on every page, plus pause, sync, token, revoke, upload (twice), delete, purge
        assert forms_seen >= len(pages) + 8
