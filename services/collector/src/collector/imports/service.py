"""`ZipImportService`: imports one uploaded export, in batches, resumably, with progress."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from collector.imports.batches import ArchiveBatches, RecordBatch
from collector.imports.errors import ImportFailedError, StoredFileMissingError
from collector.imports.matching import AccountPlayMatcher, AccountPlayReplacer
from collector.imports.normalizer import EXPECTED_SKIP_REASONS, RecordNormalizer
from collector.imports.parser import (
    ArchiveSurvey,
    ImportLimits,
    MemberKind,
    ZipImportParser,
)
from collector.imports.transactions import BatchTransactions
from collector.settings import CollectorSettings
from shared.db.enums import ImportFormat, ImportStatus, PlaySource
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob
from shared.plays.writer import ItemRow, PlayOrigin, PlayWriter, StagedPlays, WriteResult

logger = logging.getLogger(__name__)


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
class _BatchInFlight:
    """A batch being written: its task, and whether its items and rows are staged."""

    task: asyncio.Task[None] = field(init=False)
    staged: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class _Counters:
    """The job's counters as committed; `processed` doubles as the resume position."""

    processed: int
    inserted: int
    duplicate: int
    skipped: int
    skip_reasons: Counter[str]
    unexpected_skips: int = 0


class ZipImportService:
    """Runs an import job: survey, then the records in batches, each committed.

    The job's `records_processed` is committed with every batch, together with the batch's
    plays, so it is also the resume position: a second run after a crash skips what is
    already counted and repeats at most the batches in flight, which the unique constraint
    keeps from doubling. Batches commit in archive order. While one batch is written, a
    worker thread reads and normalises the next, so the database and the parser work at the
    same time.
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
        self._replacer = AccountPlayReplacer()

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
        normalizer = RecordNormalizer(
            user_id=job.user_id, import_job_id=job.id, now=datetime.now(UTC)
        )
        batches = ArchiveBatches(parser, survey.members, normalizer, skip=counters.processed)
        writer = PlayWriter()
        async with BatchTransactions(self._database) as transactions:
            upcoming = self._read_batch(batches)
            started: list[asyncio.Task[None]] = []
            try:
                previous: _BatchInFlight | None = None
                while (batch := await upcoming) is not None:
                    current = _BatchInFlight()
                    current.task = asyncio.create_task(
                        self._write_batch(
                            transactions,
                            job,
                            writer,
                            batch,
                            counters,
                            normalizer.items,
                            current,
                            previous,
                        )
                    )
                    started.append(current.task)
                    if previous is not None:
                        await previous.task  # at most two batches in flight
                    # Read the next batch while this one is written: both cores work.
                    upcoming = self._read_batch(batches)
                    previous = current
                if previous is not None:
                    await previous.task
            finally:
                # Let every batch end (each one fails by itself once its predecessor has)
                # and the worker thread finish with the parser, which is closed after this.
                pending: list[asyncio.Future[Any]] = [upcoming, *started]
                await asyncio.wait(pending)
                for future in pending:
                    if not future.cancelled():
                        future.exception()  # seen: the first failure is the one raised
        await self._finish(job.id, counters, batches.records_read, _format_of(batches.kinds))

    def _read_batch(self, batches: ArchiveBatches) -> asyncio.Future[RecordBatch | None]:
        return asyncio.ensure_future(asyncio.to_thread(batches.next_batch, self._batch_size))

    async def _write_batch(
        self,
        transactions: BatchTransactions,
        job: ImportJob,
        writer: PlayWriter,
        batch: RecordBatch,
        counters: _Counters,
        items: Mapping[str, ItemRow],
        current: _BatchInFlight,
        previous: _BatchInFlight | None,
    ) -> None:
        """Write one batch and advance the job's counters in the same transaction; `items`
        holds the item of every extended row.

        Where the database allows (`BatchTransactions.overlapping`), the batch's items and
        staged rows are written while the previous batch still moves its rows into `plays`;
        then it waits for that batch to commit, so batches commit in order and the committed
        counters always describe a prefix of the archive. A batch with account-data plays
        starts after the previous one committed: matching needs to see its plays.
        """
        for unreadable in batch.unreadable:
            logger.warning(
                "archive member unreadable",
                extra={"import_job_id": job.id, "reason": str(unreadable)},
            )
        overlap = transactions.overlapping and not batch.account_plays
        try:
            if previous is not None:
                await (previous.staged.wait() if overlap else previous.task)
            if batch.items:
                # Committed on their own, before the rows: the next batch's items may credit
                # the same artists, and must not wait for this batch's rows to commit.
                async with transactions.batch() as session:
                    await writer.write_items(session, batch.items)
            async with transactions.batch() as session:
                origin = PlayOrigin(job.user_id, PlaySource.EXTENDED_EXPORT, job.id)
                staged = await writer.stage(session, origin, batch.rows)
                current.staged.set()
                if previous is not None and overlap:
                    await previous.task
                result = await self._write_extended(session, writer, job, batch, items, staged)
                if batch.account_plays:
                    account = await self._write_account_plays(session, writer, job, batch)
                    result = WriteResult(
                        inserted=result.inserted + account.inserted,
                        duplicates=result.duplicates + account.duplicates,
                    )
                records_total = self._count(counters, batch, result)
                await session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job.id)
                    .values(
                        records_total=records_total,
                        records_processed=counters.processed,
                        records_inserted=counters.inserted,
                        records_duplicate=counters.duplicate,
                        records_skipped=counters.skipped,
                        skip_reasons=dict(counters.skip_reasons) or None,
                        heartbeat_at=datetime.now(UTC),
                    )
                )
        finally:
            current.staged.set()  # a failed batch lets the next one reach its own failure
        if self._on_progress is not None:
            self._on_progress(
                ImportProgress(
                    import_job_id=job.id,
                    records_total=records_total,
                    records_processed=counters.processed,
                    records_inserted=counters.inserted,
                    records_duplicate=counters.duplicate,
                    records_skipped=counters.skipped,
                )
            )

    @staticmethod
    def _count(counters: _Counters, batch: RecordBatch, result: WriteResult) -> int:
        """Add the batch to the counters; returns the progress total to record."""
        reasons = batch.skipped
        counters.processed += batch.records
        counters.inserted += result.inserted
        counters.duplicate += result.duplicates
        counters.skipped += reasons.total()
        counters.skip_reasons.update(reasons)
        counters.unexpected_skips += sum(
            count for reason, count in reasons.items() if reason not in EXPECTED_SKIP_REASONS
        )
        return max(batch.records_total, counters.processed)

    async def _write_extended(
        self,
        session: AsyncSession,
        writer: PlayWriter,
        job: ImportJob,
        batch: RecordBatch,
        items: Mapping[str, ItemRow],
        staged: StagedPlays,
    ) -> WriteResult:
        """Store the batch's staged extended rows; a row replaces the account-data play of
        the same listen, and counts as new only where no such play stood for it."""
        if not batch.rows:
            return WriteResult(inserted=0, duplicates=0)
        found = await self._replacer.find(session, job.user_id, batch.rows, items, batch.spans)
        if not found.replacing:
            return await writer.insert_staged(session, staged)
        replaced = await self._replacer.delete_replaced(session, found)
        moved = await writer.write_rows(session, staged.origin, found.replacing, ())
        others = await writer.write_rows(session, staged.origin, found.others, ())
        inserted = others.inserted + max(moved.inserted - replaced, 0)
        return WriteResult(inserted=inserted, duplicates=len(batch.rows) - inserted)

    async def _write_account_plays(
        self, session: AsyncSession, writer: PlayWriter, job: ImportJob, batch: RecordBatch
    ) -> WriteResult:
        """Store the batch's account-data plays that no precise play stands for already."""
        plays = batch.account_plays
        found = await self._matcher.already_stored(session, job.user_id, plays)
        if found:
            plays = [play for i, play in enumerate(plays) if i not in found]
        result = await writer.write(session, plays)
        return WriteResult(inserted=result.inserted, duplicates=result.duplicates + len(found))

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
