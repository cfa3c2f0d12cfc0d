"""ZipImportService: real exports, deduplication, hostile archives and resuming."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

import pytest
from sqlalchemy import select

from collector.imports.service import ImportProgress
from shared.db.enums import ImportFormat, ImportStatus, ItemKind, PlaySource
from shared.db.models import Play, Track
from shared.plays.model import NormalizedPlay, local_id
from shared.plays.writer import PlayWriter

from .conftest import FIXTURES, ImportHarness, extended_record, zip_bytes


class TestRealExports:
    async def test_extended_export_imports_every_play_once(self, harness: ImportHarness) -> None:
        user = await harness.user()
        archive = (FIXTURES / "extended-export-real-anonymised.zip").read_bytes()

        job = await harness.run(user, archive)

        assert job.status == ImportStatus.SUCCEEDED, job.error_message
        assert job.format == ImportFormat.EXTENDED
        assert job.records_total == job.records_processed == 16_132 + 6_545 + 25
        assert job.records_inserted + job.records_duplicate + job.records_skipped == 22_702
        assert job.records_inserted == await harness.plays(user)
        assert job.records_inserted > 20_000

    async def test_reimporting_the_same_archive_adds_nothing(self, harness: ImportHarness) -> None:
        user = await harness.user()
        archive = (FIXTURES / "extended-export-real-anonymised.zip").read_bytes()
        first = await harness.run(user, archive)

        second = await harness.run(user, archive)

        assert second.records_inserted == 0
        assert second.records_duplicate == first.records_inserted + first.records_duplicate
        assert await harness.plays(user) == first.records_inserted

    async def test_account_data_is_imported_with_local_ids(self, harness: ImportHarness) -> None:
        user = await harness.user()
        archive = (FIXTURES / "account-data-real.zip").read_bytes()

        job = await harness.run(user, archive)

        assert job.format == ImportFormat.ACCOUNT_DATA
        assert job.records_total == job.records_processed == 10_000 + 1_513 + 89
        assert job.status in {ImportStatus.SUCCEEDED, ImportStatus.PARTIAL}
        assert job.records_inserted == await harness.plays(user)
        async with harness.database.session() as session:
            kinds = set(
                await session.scalars(select(Play.item_kind).where(Play.user_id == user.id))
            )
            track_ids = set(
                await session.scalars(select(Play.track_id).where(Play.user_id == user.id))
            )
        assert kinds == {ItemKind.TRACK, ItemKind.EPISODE}
        assert all(track_id.startswith("local:") for track_id in track_ids)

    async def test_small_samples_in_every_layout(self, harness: ImportHarness) -> None:
        user = await harness.user()
        archive = zip_bytes(
            {
                "MyData/Streaming_History_Audio_2025_koito.json": (
                    FIXTURES / "Streaming_History_Audio_2025_koito.json"
                ).read_bytes(),
                "MyData/Streaming_History_Audio_2023_listenbrainz.json.json": (
                    FIXTURES / "Streaming_History_Audio_2023_listenbrainz.json"
                ).read_bytes(),
                "other/ENDSONG_0.JSON": (FIXTURES / "endsong_0_listenbrainz.json").read_bytes(),
                "ReadMeFirst.pdf": b"%PDF-1.4",
            }
        )

        job = await harness.run(user, archive)

        assert job.records_processed == 39 + 5 + 5
        assert job.status == ImportStatus.SUCCEEDED, job.error_message
        assert job.records_inserted + job.records_duplicate + job.records_skipped == 49


class TestDeduplication:
    async def test_polled_play_in_ms_and_exported_play_in_s_are_one(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        record = extended_record(1)
        polled = NormalizedPlay(
            user_id=user.id,
            source=PlaySource.API,
            item_kind=ItemKind.TRACK,
            track_id=record["spotify_track_uri"].rsplit(":", 1)[1],
            track_name=record["master_metadata_track_name"],
            played_at=datetime.fromisoformat(record["ts"]).replace(microsecond=0),
            ms_played=record["ms_played"],
            artist_ids=("realartistid0000000001",),
            artist_names=(record["master_metadata_album_artist_name"],),
        )
        async with harness.database.session(write=True) as session:
            await PlayWriter().write(session, [polled])

        job = await harness.run(
            user, zip_bytes({"Streaming_History_Audio_2022.json": [record, extended_record(2)]})
        )

        assert (job.records_inserted, job.records_duplicate) == (1, 1)
        assert await harness.plays(user) == 2

    async def test_account_rows_match_extended_plays_within_their_minute(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        records = [extended_record(n, ts=f"2022-01-01T10:{n:02d}:42Z") for n in range(10)]
        await harness.run(user, zip_bytes({"Streaming_History_Audio_2022.json": records}))
        account_rows = [
            {
                "endTime": f"2022-01-01 10:{n:02d}",
                "artistName": f"band {n % 5}".upper(),  # names compare case-insensitively
                "trackName": f"Song {n % 11}",
                "msPlayed": 1000,
            }
            for n in range(12)
        ]

        job = await harness.run(user, zip_bytes({"StreamingHistory_music_0.json": account_rows}))

        assert (job.records_inserted, job.records_duplicate) == (2, 10)
        assert await harness.plays(user) == 12

    async def test_extended_rows_replace_account_plays_imported_before_them(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        account_rows = [
            {
                "endTime": f"2022-01-01 10:{n:02d}",
                "artistName": f"band {n % 5}".upper(),  # names compare case-insensitively
                "trackName": f"Song {n % 11}",
                "msPlayed": 1000,
            }
            for n in range(12)
        ]
        await harness.run(user, zip_bytes({"StreamingHistory_music_0.json": account_rows}))
        records = [extended_record(n, ts=f"2022-01-01T10:{n:02d}:42Z") for n in range(10)]
        records += [extended_record(n, ts=f"2022-01-01T11:{n:02d}:07Z") for n in range(2)]

        job = await harness.run(user, zip_bytes({"Streaming_History_Audio_2022.json": records}))

        assert (job.records_inserted, job.records_duplicate) == (2, 10)
        assert await harness.plays(user) == 14
        async with harness.database.session() as session:
            stored = (
                await session.execute(
                    select(Play.played_at, Play.source, Play.track_id)
                    .where(Play.user_id == user.id)
                    .order_by(Play.played_at)
                )
            ).all()
        by_minute = {(row.played_at.hour, row.played_at.minute): row for row in stored}
        for n in range(10):  # the listens both sources name are the precise plays
            played_at, source, track_id = by_minute[(10, n)]
            assert (played_at.second, source) == (42, PlaySource.EXTENDED_EXPORT)
            assert not track_id.startswith("local:")
        assert [row[1] for row in stored].count(PlaySource.ACCOUNT_EXPORT) == 2

    async def test_extended_episode_replaces_the_account_episode_play(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        podcast_row = {
            "endTime": "2022-03-04 07:15",
            "podcastName": "The Show",
            "episodeName": "Pilot",
            "msPlayed": 1_200_000,
        }
        await harness.run(user, zip_bytes({"StreamingHistory_podcast_0.json": [podcast_row]}))
        episode = extended_record(
            1,
            ts="2022-03-04T07:15:59Z",
            spotify_track_uri=None,
            master_metadata_track_name=None,
            master_metadata_album_artist_name=None,
            spotify_episode_uri="spotify:episode:episode00000000000007",
            episode_name="pilot",
            episode_show_name="THE SHOW",
        )

        job = await harness.run(user, zip_bytes({"Streaming_History_Video_2022.json": [episode]}))

        assert (job.records_inserted, job.records_duplicate) == (0, 1)
        async with harness.database.session() as session:
            stored = (
                await session.execute(
                    select(Play.track_id, Play.source).where(Play.user_id == user.id)
                )
            ).all()
        assert [tuple(row) for row in stored] == [
            ("episode00000000000007", PlaySource.EXTENDED_EXPORT)
        ]

    async def test_account_play_also_polled_leaves_one_play_when_its_export_arrives(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        record = extended_record(3, ts="2022-01-01T10:03:42Z")
        account_row = {
            "endTime": "2022-01-01 10:03",
            "artistName": record["master_metadata_album_artist_name"],
            "trackName": record["master_metadata_track_name"],
            "msPlayed": 1000,
        }
        await harness.run(user, zip_bytes({"StreamingHistory_music_0.json": [account_row]}))
        polled = NormalizedPlay(
            user_id=user.id,
            source=PlaySource.API,
            item_kind=ItemKind.TRACK,
            track_id=record["spotify_track_uri"].rsplit(":", 1)[1],
            track_name=record["master_metadata_track_name"],
            played_at=datetime.fromisoformat(record["ts"]),
            ms_played=record["ms_played"],
        )
        async with harness.database.session(write=True) as session:
            await PlayWriter().write(session, [polled])

        job = await harness.run(user, zip_bytes({"Streaming_History_Audio_2022.json": [record]}))

        assert (job.records_inserted, job.records_duplicate) == (0, 1)
        async with harness.database.session() as session:
            sources = list(
                await session.scalars(select(Play.source).where(Play.user_id == user.id))
            )
        assert sources == [PlaySource.API]

    async def test_identical_records_repeated_are_one_play(self, harness: ImportHarness) -> None:
        user = await harness.user()
        records = [extended_record(n) for n in range(150)]

        job = await harness.run(
            user, zip_bytes({"Streaming_History_Audio_2022.json": records + records[::-1]})
        )

        assert (job.records_inserted, job.records_duplicate) == (150, 150)


class TestQuirksAndNonsense:
    async def test_nonsense_records_are_skipped_and_counted_by_reason(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        records = [
            extended_record(1),
            extended_record(2, ms_played=-5),
            extended_record(3, ts="1970-01-01T00:00:00Z"),
            extended_record(4, ts="2100-01-01T00:00:00Z"),
            extended_record(5, ms_played="12"),
            extended_record(6, ts=12345),
            "not a record",
            extended_record(7, spotify_track_uri=None, master_metadata_track_name=None),
            extended_record(8, skipped=True, offline_timestamp=1_650_000_000_000),
        ]

        job = await harness.run(user, zip_bytes({"Streaming_History_Audio_2022.json": records}))

        assert job.status == ImportStatus.PARTIAL
        assert job.records_inserted == 2
        assert job.skip_reasons == {
            "invalid_ms_played": 2,
            "timestamp_out_of_range": 2,
            "invalid_timestamp": 1,
            "wrong_type": 1,
            "no_item": 1,
        }
        assert job.error_message is not None
        assert "invalid_ms_played: 2" in job.error_message

    async def test_texts_no_database_can_store_are_repaired_not_fatal(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        records = [
            extended_record(
                1,
                platform="android\u0000tv",
                master_metadata_track_name="A\u0000B",
                spotify_track_uri="spotify:track:nulname00000000000001",
            ),
            extended_record(2, reason_end="x\ud800y"),  # a lone surrogate escape
            extended_record(3, spotify_track_uri="spotify:track:bad\u0000id"),
        ]

        job = await harness.run(user, zip_bytes({"Streaming_History_Audio_2022.json": records}))

        assert job.status == ImportStatus.PARTIAL, job.error_message
        assert (job.records_inserted, job.skip_reasons) == (2, {"invalid_uri": 1})
        async with harness.database.session() as session:
            stored = (
                await session.execute(
                    select(Play.platform, Play.reason_end, Track.name)
                    .join(Track, Track.id == Play.track_id)
                    .where(Play.user_id == user.id)
                    .order_by(Play.played_at)
                )
            ).all()
        assert [tuple(row) for row in stored] == [
            ("android\ufffdtv", "trackdone", "A\ufffdB"),
            ("android", "x\ufffdy", "Song 2"),
        ]

    async def test_episodes_and_audiobooks_keep_their_kind(self, harness: ImportHarness) -> None:
        user = await harness.user()
        episode = extended_record(
            1,
            spotify_track_uri=None,
            master_metadata_track_name=None,
            master_metadata_album_artist_name=None,
            spotify_episode_uri="spotify:episode:episode00000000000001",
            episode_name="Pilot",
            episode_show_name="The Show",
        )
        book = extended_record(
            2,
            spotify_track_uri=None,
            audiobook_title="A Book",
            audiobook_uri="spotify:audiobook:book0000000000000001",
            audiobook_chapter_uri="spotify:chapter:chapter0000000000001",
            audiobook_chapter_title="Chapter 1",
        )

        await harness.run(user, zip_bytes({"Streaming_History_Audio_2022.json": [episode, book]}))

        async with harness.database.session() as session:
            stored = {
                track.id: track
                for track in await session.scalars(
                    select(Track).where(
                        Track.id.in_(["episode00000000000001", "chapter0000000000001"])
                    )
                )
            }
        assert stored["episode00000000000001"].kind == ItemKind.EPISODE
        assert stored["episode00000000000001"].show_name == "The Show"
        assert stored["chapter0000000000001"].kind == ItemKind.AUDIOBOOK
        assert stored["chapter0000000000001"].name == "Chapter 1"

    async def test_personal_fields_are_not_stored(self, harness: ImportHarness) -> None:
        user = await harness.user()
        record = extended_record(1, ip_addr="203.0.113.9", username="secret-name")

        await harness.run(user, zip_bytes({"endsong_0.json": [record]}))

        async with harness.database.session() as session:
            play = await session.scalar(select(Play).where(Play.user_id == user.id))
        assert play is not None
        assert "203.0.113.9" not in repr(vars(play))
        assert "secret-name" not in repr(vars(play))


def _member_json(count: int) -> str:
    return json.dumps([extended_record(n) for n in range(count)])


class TestHostileArchives:
    @pytest.mark.parametrize(
        ("archive", "message"),
        [
            (b"this is plain text, not an archive", "not a ZIP"),
            (b"PK\x03\x04" + b"\x00" * 200, "damaged"),
            (zip_bytes({}), "no Spotify streaming-history"),
            (zip_bytes({"ReadMeFirst.pdf": b"%PDF"}), "no Spotify streaming-history"),
            (
                zip_bytes({"Streaming_History_Audio_1.json": "[" + " " * 5_000_000 + "]"}),
                "zip bomb",
            ),
            (
                zip_bytes(
                    {f"Streaming_History_Audio_{n}.json": _member_json(2000) for n in range(1)}
                ),
                "",
            ),
        ],
        ids=["not-a-zip", "corrupt", "empty", "no-history", "bomb-ratio", "control"],
    )
    async def test_refused_archives_leave_the_database_alone(
        self, harness: ImportHarness, archive: bytes, message: str
    ) -> None:
        user = await harness.user()

        job = await harness.run(user, archive)

        if not message:  # the control case proves the harness imports a sane archive
            assert job.status == ImportStatus.SUCCEEDED
            return
        assert job.status == ImportStatus.FAILED
        assert job.error_message is not None
        assert message in job.error_message
        assert await harness.plays(user) == 0

    async def test_total_uncompressed_cap_refuses_before_reading(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        member = _member_json(4000)  # ~2.5 MB each, compresses well under the ratio cap
        archive = zip_bytes({f"Streaming_History_Audio_{n}.json": member for n in range(30)})

        job = await harness.run(user, archive)

        assert job.status == ImportStatus.FAILED
        assert job.error_message is not None
        assert "IMPORT_MAX_UNCOMPRESSED_MB" in job.error_message
        assert await harness.plays(user) == 0

    async def test_a_two_gigabyte_member_is_refused_from_the_directory(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        archive = bytearray(zip_bytes({"Streaming_History_Audio_1.json": _member_json(10)}))
        _declare_size(archive, 2 * 1024**3)

        job = await harness.run(user, bytes(archive))

        assert job.status == ImportStatus.FAILED
        assert job.error_message is not None
        assert "IMPORT_MAX_MEMBER_MB" in job.error_message
        assert await harness.plays(user) == 0

    async def test_unsafe_names_and_nested_zips_are_ignored(
        self, harness: ImportHarness, tmp_path: object
    ) -> None:
        user = await harness.user()
        nested = zip_bytes({"Streaming_History_Audio_9.json": _member_json(5)})
        archive = zip_bytes(
            {
                "../../Streaming_History_Audio_1.json": _member_json(5),
                "/etc/Streaming_History_Audio_2.json": _member_json(5),
                "inner/Streaming_History_Audio.zip": nested,
            }
        )

        job = await harness.run(user, archive)

        assert job.status == ImportStatus.FAILED
        assert job.error_message is not None
        assert "no Spotify streaming-history" in job.error_message
        assert await harness.plays(user) == 0

    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (_member_json(5)[:-40], "invalid_json"),
            ('{"ts": "2022-01-01T00:00:00Z"}', "wrong_shape"),
            ('[{"hello": "world"}, 1, 2]', "wrong_shape"),
        ],
        ids=["truncated", "object", "foreign-records"],
    )
    async def test_unreadable_member_fails_alone(
        self, harness: ImportHarness, content: str, reason: str
    ) -> None:
        user = await harness.user()

        job = await harness.run(user, zip_bytes({"Streaming_History_Audio_1.json": content}))

        assert job.status == ImportStatus.FAILED
        assert job.skip_reasons == {reason: 1}
        assert await harness.plays(user) == 0

    async def test_unreadable_member_does_not_stop_the_others(self, harness: ImportHarness) -> None:
        user = await harness.user()
        archive = zip_bytes(
            {
                "Streaming_History_Audio_1.json": _member_json(5)[:-40],
                "Streaming_History_Audio_2.json": _member_json(5),
            }
        )

        job = await harness.run(user, archive)

        assert job.status == ImportStatus.PARTIAL
        assert job.records_inserted == 5
        assert job.skip_reasons == {"invalid_json": 1}


class _Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs, not even the failure record."""


class TestResuming:
    async def test_an_interrupted_import_completes_with_exact_counts(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        records = [extended_record(n) for n in range(1000)]
        archive = zip_bytes(
            {
                "Streaming_History_Audio_1.json": records[:450] + records[:50],
                "Streaming_History_Audio_2.json": records[450:],
            }
        )
        job_id = await harness.job(user, archive)
        batches = 0

        def die_after_three_batches(progress: ImportProgress) -> None:
            nonlocal batches
            batches += 1
            if batches == 3:
                raise _Killed

        with pytest.raises(_Killed):
            await harness.service(die_after_three_batches).run(job_id, claimed_by="first")
        interrupted = await harness.reload(job_id)
        assert interrupted.status == ImportStatus.RUNNING
        assert interrupted.records_processed == 300

        await harness.service().run(job_id, claimed_by="second")

        job = await harness.reload(job_id)
        assert job.status == ImportStatus.SUCCEEDED
        assert job.claimed_by == "second"
        assert job.records_processed == job.records_total == 1050
        assert (job.records_inserted, job.records_duplicate) == (1000, 50)
        assert await harness.plays(user) == 1000

    async def test_a_failed_import_run_again_adds_no_duplicates(
        self, harness: ImportHarness
    ) -> None:
        user = await harness.user()
        archive = zip_bytes({"Streaming_History_Audio_1.json": _member_json(250)})
        job_id = await harness.job(user, archive)

        def fail_in_second_batch(progress: ImportProgress) -> None:
            if progress.records_processed == 200:
                raise RuntimeError("disk full")

        await harness.service(fail_in_second_batch).run(job_id, claimed_by="first")
        failed = await harness.reload(job_id)
        assert failed.status == ImportStatus.FAILED
        assert "disk full" in (failed.error_message or "")

        await harness.service().run(job_id, claimed_by="second")

        job = await harness.reload(job_id)
        assert job.status == ImportStatus.SUCCEEDED
        assert (job.records_processed, job.records_inserted) == (250, 250)
        assert await harness.plays(user) == 250


def _declare_size(archive: bytearray, size: int) -> None:
    """Make the central directory claim the first member expands to `size` bytes (ZIP64)."""
    info = zipfile.ZipFile(io.BytesIO(bytes(archive))).infolist()[0]
    directory = bytes(archive).rindex(b"PK\x01\x02")
    # Uncompressed size sits 24 bytes into a central directory header; 0xFFFFFFFF is too
    # small for 2 GB on its own, so use the largest 32-bit value below it.
    value = min(size, 0xFFFFFFFE)
    archive[directory + 24 : directory + 28] = value.to_bytes(4, "little")
    assert info.filename


__all__ = ["local_id"]
