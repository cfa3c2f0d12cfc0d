"""ArchiveBatches hands out every record once, in order, across members, from any position."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.imports.batches import ArchiveBatches, RecordBatch
from collector.imports.normalizer import RecordNormalizer
from collector.imports.parser import ZipImportParser

from .conftest import LIMITS, extended_record, zip_bytes

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _archive(tmp_path: Path, members: dict[str, Any]) -> ZipImportParser:
    path = tmp_path / "export.zip"
    path.write_bytes(zip_bytes(members))
    return ZipImportParser(path, LIMITS)


def _all_batches(batches: ArchiveBatches, size: int) -> list[RecordBatch]:
    found: list[RecordBatch] = []
    while (batch := batches.next_batch(size)) is not None:
        found.append(batch)
    return found


def _records(first: int, count: int) -> list[dict[str, Any]]:
    return [extended_record(n) for n in range(first, first + count)]


class TestArchiveBatches:
    def test_batches_span_members_and_hold_every_record_once_in_order(self, tmp_path: Path) -> None:
        with _archive(
            tmp_path,
            {
                "Streaming_History_Audio_1.json": _records(0, 7),
                "Streaming_History_Audio_2.json": _records(7, 5),
                "Streaming_History_Audio_3.json": _records(12, 9),
            },
        ) as parser:
            normalizer = RecordNormalizer(user_id=1, import_job_id=1, now=NOW)
            batches = ArchiveBatches(parser, parser.survey().members, normalizer)

            found = _all_batches(batches, 4)

        assert [batch.records for batch in found] == [4, 4, 4, 4, 4, 1]
        played = [row[1] for batch in found for row in batch.rows]
        assert played == sorted(played)
        assert len(set(played)) == 21
        assert found[-1].records_total == batches.records_read == 21
        # Each batch names the items its rows are the first to name, once over all batches.
        first_named = [item.track_id for batch in found for item in batch.items]
        assert len(first_named) == len(set(first_named)) == 11

    def test_each_member_of_a_batch_adds_the_time_span_of_its_rows(self, tmp_path: Path) -> None:
        later = [extended_record(n, ts=f"2023-05-0{n + 1}T12:00:00Z") for n in range(3)]
        with _archive(
            tmp_path,
            {"endsong_0.json": later[::-1], "endsong_1.json": _records(0, 2)},
        ) as parser:
            normalizer = RecordNormalizer(user_id=1, import_job_id=1, now=NOW)
            batches = ArchiveBatches(parser, parser.survey().members, normalizer)

            [batch] = _all_batches(batches, 100)

        assert batch.spans == [
            (datetime(2023, 5, 1, 12, tzinfo=UTC), datetime(2023, 5, 3, 12, tzinfo=UTC)),
            (datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 1, 1, 0, 5, tzinfo=UTC)),
        ]

    def test_resuming_starts_at_the_first_record_not_yet_committed(self, tmp_path: Path) -> None:
        members = {
            "Streaming_History_Audio_1.json": _records(0, 7),
            "Streaming_History_Audio_2.json": _records(7, 5),
        }
        with _archive(tmp_path, members) as parser:
            normalizer = RecordNormalizer(user_id=1, import_job_id=1, now=NOW)
            batches = ArchiveBatches(parser, parser.survey().members, normalizer, skip=9)

            found = _all_batches(batches, 100)

        [batch] = found
        expected = [extended_record(n)["ts"] for n in range(9, 12)]
        assert [row[1].strftime("%Y-%m-%dT%H:%M:%SZ") for row in batch.rows] == expected
        assert batch.records == 3
        assert batches.records_read == 12

    def test_an_unreadable_member_counts_as_one_skipped_record(self, tmp_path: Path) -> None:
        with _archive(
            tmp_path,
            {
                "Streaming_History_Audio_1.json": "[{not json",
                "Streaming_History_Audio_2.json": _records(0, 3),
            },
        ) as parser:
            normalizer = RecordNormalizer(user_id=1, import_job_id=1, now=NOW)
            batches = ArchiveBatches(parser, parser.survey().members, normalizer)

            [batch] = _all_batches(batches, 10)

        assert batch.records == 4
        assert len(batch.rows) == 3
        assert batch.skipped == {"invalid_json": 1}
        assert [error.member for error in batch.unreadable] == ["Streaming_History_Audio_1.json"]

    def test_account_records_come_as_plays_in_time_order(self, tmp_path: Path) -> None:
        rows = [
            {"endTime": f"2022-01-0{day} 10:00", "artistName": "A", "trackName": "T", "msPlayed": 1}
            for day in (3, 1, 2)
        ]
        with _archive(tmp_path, {"StreamingHistory_music_0.json": rows}) as parser:
            normalizer = RecordNormalizer(user_id=1, import_job_id=1, now=NOW)
            batches = ArchiveBatches(parser, parser.survey().members, normalizer)

            [batch] = _all_batches(batches, 10)

        assert [play.played_at.day for play in batch.account_plays] == [1, 2, 3]
        assert batch.rows == []
        assert batch.spans == []
