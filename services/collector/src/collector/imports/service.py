"""`ZipImportService`: imports one uploaded export, in batches, resumably, with progress."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collector.imports.errors import (
    ImportFailedError,
    MemberUnreadableError,
    StoredFileMissingError,
)
from collector.imports.normalizer import EXPECTED_SKIP_REASONS, Outcome, RecordNormalizer
from collector.imports.parser import (
    ArchiveSurvey,
    HistoryMember,
    ImportLimits,
    MemberKind,
    ZipImportParser,
    decode_member,
)
from collector.settings import CollectorSettings
from shared.db.enums import ImportFormat, ImportStatus, PlaySource
from shared.db.manager import DatabaseManager
from shared.db.models import Artist, ImportJob, Play, Track, TrackArtist
from shared.plays.model import NormalizedPlay
from shared.plays.writer import ItemRow, PlayRow, PlayWriter

logger = logging.getLogger(__name__)

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Counters of an import after a committed batch, for a progress bar."""

    import_job_id: int
    records_total: int
    records_processed: int
    records_inserted: int
    records_duplicate: int
    records_skipped: int


ProgressCallback = Callable[[ImportProgress], None]


@dataclass(slots=True)
class _Counters:
    """The job's counters as committed; `processed` doubles as the resume position."""

    processed: int
    inserted: int
    duplicate: int
    skipped: int
    skip_reasons: Counter[str]
    unexpected_skips: int = 0


@dataclass(frozen=True, slots=True)
class _ParsedMember:
    """One member read and normalised (or the reason it could not be)."""

    kind: MemberKind | None
    outcomes: list[Outcome]
    error: MemberUnreadableError | None = None


class AccountPlayMatcher:
    """Finds account-data plays already stored from a more precise source.

    Account data gives the minute and names only; the same play from the extended export or
    the API has an exact second and a Spotify ID. A play matches when the same user has a
    non-account play ending within that minute, of an item with the same name by the same
    artist (or, for episodes, the same show).
    """

    async def already_stored(
        self, session: AsyncSession, user_id: int, plays: Sequence[NormalizedPlay]
    ) -> set[int]:
        """Indexes of the plays that match a stored play; one query per batch."""
        if not plays:
            return set()
        start = min(play.played_at for play in plays)
        end = max(play.played_at for play in plays) + _MINUTE
        rows = await session.execute(
            select(Play.played_at, Track.name, Track.show_name, Artist.name)
            .join(Track, Track.id == Play.track_id)
            .outerjoin(TrackArtist, TrackArtist.track_id == Track.id)
            .outerjoin(Artist, Artist.id == TrackArtist.artist_id)
            .where(
                Play.user_id == user_id,
                Play.played_at >= start,
                Play.played_at < end,
                Play.source != PlaySource.ACCOUNT_EXPORT,
            )
        )
        stored: set[tuple[datetime, str, str]] = set()
        for played_at, name, show_name, artist_name in rows:
            minute = played_at.replace(second=0, microsecond=0)
            for creator in (artist_name, show_name):
                if creator:
                    stored.add((minute, name.casefold(), creator.casefold()))
        matched: set[int] = set()
        for index, play in enumerate(plays):
            creator = play.show_name or (play.artist_names[0] if play.artist_names else "")
            key = (play.played_at, play.track_name.casefold(), creator.casefold())
            if key in stored:
                matched.add(index)
        return matched


class ZipImportService:
    """Runs an import job: survey, then member by member, batch by batch, each committed.

    The job's `records_processed` is committed with every batch, together with the batch's
    plays, so it is also the resume position: a second run after a crash skips what is
    already counted and repeats at most the batch in flight, which the unique constraint
    keeps from doubling.
    """

    def __init__(
        self,
        database: DatabaseManager,
        *,
        import_dir: Path,
        limits: ImportLimits,
        batch_size: int = 50_000,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self._database = database
        self._import_dir = import_dir
        self._limits = limits
        self._batch_size = batch_size
        self._on_progress = on_progress
        self._matcher = AccountPlayMatcher()

    @classmethod
    def from_settings(
        cls,
        database: DatabaseManager,
        settings: CollectorSettings,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> ZipImportService:
        """The service with the configured folder, caps and batch size."""
        return cls(
            database,
            import_dir=settings.import_dir,
            limits=settings.import_limits(),
            batch_size=settings.import_batch_size,
            on_progress=on_progress,
        )

    async def run(self, import_job_id: int, *, claimed_by: str) -> None:
        """Import the job's archive; failures end in the job's row, not in an exception."""
        try:
            job = await self._start(import_job_id, claimed_by)
        except LookupError:
            logger.warning("import job not found", extra={"import_job_id": import_job_id})
            return
        try:
            await self._import(job)
        except ImportFailedError as exc:
            logger.warning(
                "import failed",
                extra={"import_job_id": import_job_id, "code": exc.code, "reason": exc.message},
            )
            await self._finish_failed(import_job_id, exc.message)
        except Exception as exc:  # errors are data: the collector keeps running
            logger.exception("import crashed", extra={"import_job_id": import_job_id})
            await self._finish_failed(
                import_job_id, f"Unexpected error: {exc.__class__.__name__}: {exc}"
            )

    async def _start(self, import_job_id: int, claimed_by: str) -> ImportJob:
        now = datetime.now(UTC)
        async with self._database.session(write=True) as session:
            job = await session.get(ImportJob, import_job_id)
            if job is None:
                raise LookupError(import_job_id)
            job.status = ImportStatus.RUNNING
            job.claimed_by = claimed_by
            job.heartbeat_at = now
            job.started_at = job.started_at or now
            job.finished_at = None
            job.error_message = None
        return job

    async def _import(self, job: ImportJob) -> None:
        path = self._archive_path(job.stored_path)
        parser = await asyncio.to_thread(ZipImportParser, path, self._limits)
        try:
            survey = await asyncio.to_thread(parser.survey)
            await self._record_survey(job.id, survey)
            await self._import_members(job, parser, survey)
        finally:
            parser.close()

    def _archive_path(self, stored_path: str) -> Path:
        root = self._import_dir.resolve()
        path = (root / stored_path).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise StoredFileMissingError(f"The stored archive {stored_path} is missing.")
        return path

    async def _record_survey(self, job_id: int, survey: ArchiveSurvey) -> None:
        if survey.ignored:
            logger.info(
                "archive members ignored",
                extra={"import_job_id": job_id, "ignored": dict(survey.ignored)},
            )
        async with self._database.session(write=True) as session:
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(
                    format=survey.format,
                    records_total=sum(member.estimated_records for member in survey.members),
                )
            )

    async def _import_members(
        self, job: ImportJob, parser: ZipImportParser, survey: ArchiveSurvey
    ) -> None:
        counters = _Counters(
            processed=job.records_processed,
            inserted=job.records_inserted,
            duplicate=job.records_duplicate,
            skipped=job.records_skipped,
            skip_reasons=Counter(job.skip_reasons or {}),
        )
        counters.unexpected_skips = sum(
            count
            for reason, count in counters.skip_reasons.items()
            if reason not in EXPECTED_SKIP_REASONS
        )
        resume_at = counters.processed
        normalizer = RecordNormalizer(
            user_id=job.user_id, import_job_id=job.id, now=datetime.now(UTC)
        )
        writer = PlayWriter()
        members = survey.members
        kinds: set[MemberKind] = set()
        counted = 0  # records of the members read so far, for an exact progress total
        position = 0  # how many records (in import order) come before the current member
        next_member = asyncio.ensure_future(self._parse(parser, normalizer, members[0]))
        try:
            for index in range(len(members)):
                parsed = await next_member
                if index + 1 < len(members):
                    # Read the next member while this one is written: both cores work.
                    next_member = asyncio.ensure_future(
                        self._parse(parser, normalizer, members[index + 1])
                    )
                if parsed.kind is not None:
                    kinds.add(parsed.kind)
                size = len(parsed.outcomes) if parsed.error is None else 1
                counted += size
                estimate = counted + sum(m.estimated_records for m in members[index + 1 :])
                start = max(resume_at - position, 0)
                position += size
                if start >= size:
                    continue
                if parsed.error is not None:
                    logger.warning(
                        "archive member unreadable",
                        extra={"import_job_id": job.id, "reason": str(parsed.error)},
                    )
                    await self._commit_batch(
                        job, writer, [parsed.error.code], counters, estimate, kind=None, items={}
                    )
                    continue
                for offset in range(start, size, self._batch_size):
                    batch = parsed.outcomes[offset : offset + self._batch_size]
                    await self._commit_batch(
                        job,
                        writer,
                        batch,
                        counters,
                        estimate,
                        kind=parsed.kind,
                        items=normalizer.items,
                    )
        finally:
            next_member.cancel()
        await self._finish(job.id, counters, counted, _format_of(kinds))

    async def _parse(
        self, parser: ZipImportParser, normalizer: RecordNormalizer, member: HistoryMember
    ) -> _ParsedMember:
        return await asyncio.to_thread(_parse_member, parser, normalizer, member)

    async def _commit_batch(
        self,
        job: ImportJob,
        writer: PlayWriter,
        outcomes: Sequence[Outcome],
        counters: _Counters,
        records_total: int,
        *,
        kind: MemberKind | None,
        items: Mapping[str, ItemRow],
    ) -> None:
        """Write one batch and advance the job's counters in the same transaction; `items`
        holds the item of each play row (extended records)."""
        plays: list[NormalizedPlay] = []
        rows: list[PlayRow] = []
        reasons: Counter[str] = Counter()
        for outcome in outcomes:
            if type(outcome) is tuple:
                rows.append(outcome)
            elif type(outcome) is str:
                reasons[outcome] += 1
            else:
                plays.append(outcome)  # type: ignore[arg-type]
        async with self._database.session(write=True) as session:
            matched = 0
            if kind is MemberKind.ACCOUNT and plays:
                found = await self._matcher.already_stored(session, job.user_id, plays)
                if found:
                    matched = len(found)
                    plays = [play for i, play in enumerate(plays) if i not in found]
            if rows:
                result = await writer.write_rows(session, rows, items)
            else:
                result = await writer.write(session, plays)
            counters.processed += len(outcomes)
            counters.inserted += result.inserted
            counters.duplicate += result.duplicates + matched
            counters.skipped += reasons.total()
            counters.skip_reasons.update(reasons)
            counters.unexpected_skips += sum(
                count for reason, count in reasons.items() if reason not in EXPECTED_SKIP_REASONS
            )
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id)
                .values(
                    records_total=max(records_total, counters.processed),
                    records_processed=counters.processed,
                    records_inserted=counters.inserted,
                    records_duplicate=counters.duplicate,
                    records_skipped=counters.skipped,
                    skip_reasons=dict(counters.skip_reasons) or None,
                    heartbeat_at=datetime.now(UTC),
                )
            )
        if self._on_progress is not None:
            self._on_progress(
                ImportProgress(
                    import_job_id=job.id,
                    records_total=max(records_total, counters.processed),
                    records_processed=counters.processed,
                    records_inserted=counters.inserted,
                    records_duplicate=counters.duplicate,
                    records_skipped=counters.skipped,
                )
            )

    async def _finish(
        self, job_id: int, counters: _Counters, records_total: int, found: ImportFormat
    ) -> None:
        valid = counters.inserted + counters.duplicate
        values: dict[str, Any] = {
            "records_total": records_total,
            "finished_at": datetime.now(UTC),
            "heartbeat_at": datetime.now(UTC),
        }
        if found is not ImportFormat.UNKNOWN:
            values["format"] = found
        if counters.unexpected_skips == 0:
            values.update(status=ImportStatus.SUCCEEDED, error_message=None)
        elif valid == 0:
            values.update(
                status=ImportStatus.FAILED,
                error_message="Nothing could be imported. " + _describe(counters.skip_reasons),
            )
        else:
            values.update(
                status=ImportStatus.PARTIAL, error_message=_describe(counters.skip_reasons)
            )
        async with self._database.session(write=True) as session:
            await session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))

    async def _finish_failed(self, job_id: int, message: str) -> None:
        """Record the failure in its own transaction, so it survives the work's rollback."""
        now = datetime.now(UTC)
        async with self._database.session(write=True) as session:
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(
                    status=ImportStatus.FAILED,
                    error_message=message,
                    finished_at=now,
                    heartbeat_at=now,
                )
            )


def _parse_member(
    parser: ZipImportParser, normalizer: RecordNormalizer, member: HistoryMember
) -> _ParsedMember:
    """Read and normalise one member (runs in a worker thread)."""
    return _normalize(normalizer, member, parser.read_bytes(member))


def _normalize(normalizer: RecordNormalizer, member: HistoryMember, data: bytes) -> _ParsedMember:
    try:
        parsed = decode_member(member, data)
    except MemberUnreadableError as exc:
        return _ParsedMember(kind=member.kind, outcomes=[], error=exc)
    del data
    records = parsed.records
    if parsed.kind is MemberKind.ACCOUNT:
        # In time order, so each batch covers a short span for the minute-window lookup.
        records.sort(key=lambda r: r.get("endTime") or "" if isinstance(r, dict) else "")
        normalize = normalizer.account
    else:
        normalize = normalizer.extended
    return _ParsedMember(kind=parsed.kind, outcomes=[normalize(record) for record in records])


def _format_of(kinds: set[MemberKind]) -> ImportFormat:
    if kinds == {MemberKind.EXTENDED}:
        return ImportFormat.EXTENDED
    if kinds == {MemberKind.ACCOUNT}:
        return ImportFormat.ACCOUNT_DATA
    if len(kinds) > 1:
        return ImportFormat.MIXED
    return ImportFormat.UNKNOWN


def _describe(reasons: Counter[str]) -> str:
    listed = ", ".join(f"{reason}: {count:,}" for reason, count in reasons.most_common())
    return f"Skipped {reasons.total():,} records ({listed})."
