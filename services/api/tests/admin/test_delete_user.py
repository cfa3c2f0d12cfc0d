"""Deleting a user removes everything of theirs and nothing of anyone else's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import JobType
from shared.db.models import (
    ApiToken,
    ImportJob,
    JobRun,
    LogEntry,
    Play,
    SpotifyToken,
    SyncCheckpoint,
    Track,
    User,
)
from testkit.factories import (
    create_api_token,
    create_checkpoint,
    create_import_job,
    create_job_run,
    create_log_entry,
    create_play,
    create_spotify_token,
    create_track,
    create_user,
)

from .conftest import ADMIN, files_under


@dataclass
class Household:
    """One user with a row in every table that can hold something of theirs."""

    user: User
    archive: Path
    import_job: ImportJob


async def _populate(session: AsyncSession, import_dir: Path, track: Track) -> Household:
    user = await create_user(session)
    await create_play(session, user=user, track=track)
    await create_spotify_token(session, user=user)
    await create_checkpoint(session, user=user)
    archive = import_dir / str(user.id) / "stored.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"PK\x03\x04 stored archive")
    (archive.parent / "left-over.zip.part").write_bytes(b"PK")
    job = await create_import_job(session, user=user, stored_path=f"{user.id}/stored.zip")
    await create_play(session, user=user, track=await create_track(session), import_job_id=job.id)
    await create_job_run(session, user_id=user.id)
    # An import job run and its log line may name only the import, not the user.
    import_run = await create_job_run(session, job_type=JobType.IMPORT, import_job_id=job.id)
    await create_log_entry(session, import_job_id=job.id)
    await create_log_entry(session, job_run_id=import_run.id)
    await create_log_entry(session, user_id=user.id)
    await create_api_token(session, user_id=user.id)
    return Household(user=user, archive=archive, import_job=job)


async def _rows_of(session: AsyncSession, household: Household) -> dict[str, int]:
    user_id = household.user.id
    import_id = household.import_job.id
    runs = select(JobRun.id).where(
        or_(JobRun.user_id == user_id, JobRun.import_job_id == import_id)
    )
    counted: dict[str, Any] = {
        "users": select(func.count()).where(User.id == user_id),
        "plays": select(func.count()).where(Play.user_id == user_id),
        "spotify_tokens": select(func.count()).where(SpotifyToken.user_id == user_id),
        "sync_checkpoints": select(func.count()).where(SyncCheckpoint.user_id == user_id),
        "import_jobs": select(func.count()).where(ImportJob.user_id == user_id),
        "job_runs": select(func.count()).select_from(runs.subquery()),
        "api_tokens": select(func.count()).where(ApiToken.user_id == user_id),
        "logs": select(func.count()).where(
            or_(
                LogEntry.user_id == user_id,
                LogEntry.import_job_id == import_id,
                LogEntry.job_run_id.in_(runs),
            )
        ),
    }
    return {name: int(await session.scalar(query) or 0) for name, query in counted.items()}


class TestDeleteUser:
    async def test_removes_every_row_and_file_of_the_user_and_nothing_else(
        self, client: httpx.AsyncClient, db_session: AsyncSession, import_dir: Path
    ) -> None:
        shared_track = await create_track(db_session)
        doomed = await _populate(db_session, import_dir, shared_track)
        kept = await _populate(db_session, import_dir, shared_track)
        kept_before = await _rows_of(db_session, kept)
        assert kept_before == {
            "users": 1,
            "plays": 2,
            "spotify_tokens": 1,
            "sync_checkpoints": 1,
            "import_jobs": 1,
            "job_runs": 2,
            "api_tokens": 1,
            "logs": 3,
        }
        kept_files = files_under(import_dir / str(kept.user.id))

        response = await client.delete(f"/admin/users/{doomed.user.id}", headers=ADMIN)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "user_id": doomed.user.id,
            "plays": 2,
            "import_jobs": 1,
            "job_runs": 2,
            "api_tokens": 1,
            "log_entries": 3,
            "stored_files": 1,
        }
        db_session.expunge_all()
        assert set((await _rows_of(db_session, doomed)).values()) == {0}
        assert not (import_dir / str(doomed.user.id)).exists()
        assert await _rows_of(db_session, kept) == kept_before
        assert files_under(import_dir / str(kept.user.id)) == kept_files
        # Tracks are shared by everyone who played them and stay.
        assert await db_session.get(Track, shared_track.id) is not None

    async def test_a_user_with_nothing_but_a_row_is_deleted(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        response = await client.delete(f"/admin/users/{user.id}", headers=ADMIN)

        assert response.status_code == 200
        assert response.json()["plays"] == 0
        db_session.expunge_all()
        assert await db_session.get(User, user.id) is None
        assert (await client.get(f"/admin/users/{user.id}", headers=ADMIN)).status_code == 404

    async def test_files_outside_the_import_folder_are_left_alone(
        self, client: httpx.AsyncClient, db_session: AsyncSession, tmp_path: Path
    ) -> None:
        user = await create_user(db_session)
        elsewhere = tmp_path / "watch" / "export.zip"
        elsewhere.parent.mkdir()
        elsewhere.write_bytes(b"PK")
        await create_import_job(db_session, user=user, stored_path=str(elsewhere))

        response = await client.delete(f"/admin/users/{user.id}", headers=ADMIN)

        assert response.json()["stored_files"] == 0
        assert elsewhere.exists()

    async def test_unknown_user_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/admin/users/999999", headers=ADMIN)
        assert response.status_code == 404
