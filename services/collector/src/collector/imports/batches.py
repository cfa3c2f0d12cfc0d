"""`ArchiveBatches`: an archive's records in import order, normalised and cut into batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from collector.imports.errors import MemberUnreadableError
from collector.imports.normalizer import Outcome, RecordNormalizer
from collector.imports.parser import HistoryMember, MemberKind, ZipImportParser, decode_member
from shared.plays.model import NormalizedPlay
from shared.plays.writer import ItemRow, PlayRow

_ended = itemgetter(1)  # a play row's played_at


@dataclass(slots=True)
class RecordBatch:
    """Consecutive records of the archive, normalised: what one write transaction stores.

    A batch may span members. Extended records come as play rows, account-data records as
    plays (they still have to be matched by name); an unreadable member counts as one record.
    """

    records: int = 0
    """How many records the batch covers, skipped ones included."""
    rows: list[PlayRow] = field(default_factory=list)
    """Extended-history plays, in the order of the archive."""
    items: list[ItemRow] = field(default_factory=list)
    """Items named for the first time (in this run) by the rows of this or a later batch."""
    account_plays: list[NormalizedPlay] = field(default_factory=list)
    """Account-data plays, in time order within each member."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Records left out, by reason."""
    unreadable: list[MemberUnreadableError] = field(default_factory=list)
    """Members that could not be read at all."""
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    """When the rows' plays ended, earliest to latest, for the rows of each member: spans
    to look for stored plays in, tight even when members are not in time order."""
    records_total: int = 0
    """The archive's record count as far as known: exact for the members read, estimated
    from their size for the others."""

    def add(self, outcomes: Sequence[Outcome | MemberUnreadableError]) -> None:
        """Sort the outcomes of consecutive records into the batch."""
        self.records += len(outcomes)
        rows = self.rows
        first_row = len(rows)
        for outcome in outcomes:
            kind = type(outcome)
            if kind is tuple:
                rows.append(outcome)  # type: ignore[arg-type]
            elif kind is str:
                self.skipped[outcome] += 1  # type: ignore[index]
            elif isinstance(outcome, MemberUnreadableError):
                self.unreadable.append(outcome)
                self.skipped[outcome.code] += 1
            else:
                self.account_plays.append(outcome)  # type: ignore[arg-type]
        if len(rows) > first_row:
            added = rows[first_row:]
            self.spans.append((_ended(min(added, key=_ended)), _ended(max(added, key=_ended))))


class ArchiveBatches:
    """Reads the members one after another and hands out their records in batches.

    `skip` records (the resume position: what earlier runs committed) are counted but not
    normalised. `next_batch` reads and parses, so it belongs in a worker thread; one caller
    at a time.
    """

    def __init__(
        self,
        parser: ZipImportParser,
        members: Sequence[HistoryMember],
        normalizer: RecordNormalizer,
        *,
        skip: int = 0,
    ) -> None:
        self._parser = parser
        self._members = members
        self._normalizer = normalizer
        self._skip = skip
        self._next_member = 0
        self._outcomes: Sequence[Outcome | MemberUnreadableError] = ()
        self._offset = 0
        self.records_read = 0
        """Records of the members read so far (an unreadable member counts as one)."""
        self.kinds: set[MemberKind] = set()
        """The layouts of the members read so far."""

    def next_batch(self, size: int) -> RecordBatch | None:
        """The next `size` records (fewer at the end), or None when none are left."""
        batch = RecordBatch()
        while batch.records < size:
            if self._offset >= len(self._outcomes) and not self._read_next_member():
                break
            end = min(self._offset + size - batch.records, len(self._outcomes))
            batch.add(self._outcomes[self._offset : end])
            self._offset = end
        batch.items = self._normalizer.take_new_items()
        if batch.records == 0:
            return None
        unread = self._members[self._next_member :]
        batch.records_total = self.records_read + sum(m.estimated_records for m in unread)
        return batch

    def _read_next_member(self) -> bool:
        """Load the outcomes of the next member not wholly skipped; False at the end."""
        while self._next_member < len(self._members):
            member = self._members[self._next_member]
            self._next_member += 1
            data = self._parser.read_bytes(member)
            try:
                parsed = decode_member(member, data)
            except MemberUnreadableError as exc:
                if member.kind is not None:
                    self.kinds.add(member.kind)
                records: list[Any] = [exc]
                kind = None
            else:
                self.kinds.add(parsed.kind)
                records = parsed.records
                kind = parsed.kind
            del data
            self.records_read += len(records)
            if self._skip >= len(records):
                self._skip -= len(records)
                continue
            self._outcomes = self._normalize(kind, records, self._skip)
            self._offset = 0
            self._skip = 0
            return True
        self._outcomes = ()
        self._offset = 0
        return False

    def _normalize(
        self, kind: MemberKind | None, records: list[Any], start: int
    ) -> Sequence[Outcome | MemberUnreadableError]:
        if kind is None:  # an unreadable member: its error stands for its one record
            return records[start:]
        if kind is MemberKind.ACCOUNT:
            # In time order, so each batch covers a short span for the minute-window lookup.
            records.sort(key=_end_time)
            normalize = self._normalizer.account
        else:
            normalize = self._normalizer.extended
        return [normalize(record) for record in records[start:]]


def _end_time(record: Any) -> str:
    """An account-data record's endTime for sorting ("" when it has none to speak of)."""
    end_time = record.get("endTime") if isinstance(record, dict) else None
    return end_time if isinstance(end_time, str) else ""
