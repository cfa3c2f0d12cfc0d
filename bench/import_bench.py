"""Import benchmark: a synthetic extended export of N records through ZipImportService.

Usage: .venv/bin/python bench/import_bench.py [--records N] [--only sqlite|postgresql]
[--archive FILE] [--profile FILE]. Prints records/s, CPU seconds per record of this process
(and of the PostgreSQL server processes, when they run on this machine), peak RSS, and the
load average, since figures taken while other work runs are not comparable. PostgreSQL is the
server at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); a scratch
database is created and dropped. `--archive` keeps the generated export at FILE and reuses
it on later runs with the same record count.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import random
import resource
import shutil
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import text

from collector.imports.parser import ImportLimits
from collector.imports.service import ZipImportService
from shared.db.enums import ImportStatus
from shared.db.manager import DatabaseManager
from shared.db.models import ImportJob
from testkit.databases import PostgresDatabaseFactory, SqliteDatabaseFactory
from testkit.factories import create_import_job, create_user

RECORDS_PER_FILE = 16_000
ARTISTS = 8_000
TRACKS = 60_000
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _spotify_id(rng: random.Random) -> str:
    return "".join(rng.choices(_ALPHABET, k=22))


def _zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    return list(accumulate(1 / (rank**exponent) for rank in range(1, count + 1)))


def generate_export(path: Path, records: int, seed: int = 7) -> None:
    """Write a ZIP like Spotify's: current-format files, plus unsorted legacy endsong files."""
    rng = random.Random(seed)
    artists = [f"Artist {n} {_spotify_id(rng)[:6]}" for n in range(ARTISTS)]
    artist_weights = _zipf_weights(ARTISTS)
    tracks = [
        (_spotify_id(rng), f"Track {n}", rng.choices(artists, cum_weights=artist_weights)[0])
        for n in range(TRACKS)
    ]
    track_weights = _zipf_weights(TRACKS)
    start = datetime(2010, 1, 1, tzinfo=UTC)
    moment = start
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        written = 0
        file_number = 0
        while written < records:
            count = min(RECORDS_PER_FILE, records - written)
            legacy = file_number % 4 == 3  # a quarter in the legacy layout, unsorted
            chosen = rng.choices(tracks, cum_weights=track_weights, k=count)
            rows: list[dict[str, Any]] = []
            for track_id, name, artist in chosen:
                # About half the plays are skips under 30 s.
                ms = (
                    rng.randint(500, 29_000) if rng.random() < 0.5 else rng.randint(30_000, 400_000)
                )
                moment += timedelta(milliseconds=ms + rng.randint(1000, 300_000))
                rows.append(_record(moment, ms, track_id, name, artist, legacy=legacy))
            if legacy:
                rng.shuffle(rows)
                name = f"MyData/endsong_{file_number}.json"
            else:
                name = f"MyData/Streaming_History_Audio_{moment.year}_{file_number}.json"
            archive.writestr(name, json.dumps(rows, indent=2))
            written += count
            file_number += 1


def _record(
    moment: datetime, ms: int, track_id: str, name: str, artist: str, *, legacy: bool
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "ts": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": "android",
        "ms_played": ms,
        "conn_country": "NL",
        "ip_addr": "192.0.2.1",
        "master_metadata_track_name": name,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": f"{artist} album",
        "spotify_track_uri": f"spotify:track:{track_id}",
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "trackdone",
        "reason_end": "fwdbtn" if ms < 30_000 else "trackdone",
        "shuffle": False,
        "skipped": ms < 30_000,
        "offline": False,
        "offline_timestamp": int(moment.timestamp()),
        "incognito_mode": False,
    }
    if legacy:
        record["username"] = "someone"
        record["ip_addr_decrypted"] = record.pop("ip_addr")
        record["user_agent_decrypted"] = "unknown"
        for key in ("audiobook_title", "audiobook_uri", "audiobook_chapter_uri"):
            record.pop(key)
        record.pop("audiobook_chapter_title")
    return record


async def server_cpu_seconds(database: DatabaseManager) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL process serving this database, when the
    server runs on this machine (empty on SQLite or when /proc cannot tell)."""
    if database.is_sqlite:
        return {}
    async with database.engine.connect() as connection:
        pids = (
            await connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        ).scalars()
        seconds = {pid: _cpu_seconds(pid) for pid in pids}
    return {pid: used for pid, used in seconds.items() if used is not None}


def _cpu_seconds(pid: int) -> float | None:
    """CPU seconds a process of this machine has used, None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, the 14th and 15th fields of the line, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def import_once(url: str, archive: Path, import_dir: Path, profile: Path | None) -> None:
    """Import the archive into the database at `url` and print the figures."""
    database = DatabaseManager(url)
    stored = import_dir / "1" / archive.name
    stored.parent.mkdir(parents=True, exist_ok=True)
    if not stored.exists():
        stored.hardlink_to(archive)
    try:
        async with database.session(write=True) as session:
            user = await create_user(session, spotify_user_id="bench")
            job = await create_import_job(
                session, user=user, stored_path=f"1/{archive.name}", size_bytes=0
            )
            job_id = job.id
        service = ZipImportService(
            database,
            import_dir=import_dir,
            limits=ImportLimits(
                max_uncompressed_bytes=8 * 1024**3,
                max_member_bytes=512 * 1024**2,
                max_compression_ratio=100,
            ),
        )
        profiler = cProfile.Profile() if profile else None
        server_before = await server_cpu_seconds(database)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        cpu_started = time.process_time()
        if profiler:
            profiler.enable()
        await service.run(job_id, claimed_by="bench")
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(str(profile))
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_started
        server_after = await server_cpu_seconds(database)
        server_cpu = sum(
            seconds - server_before.get(pid, 0.0) for pid, seconds in server_after.items()
        )
        async with database.session() as session:
            done = await session.get(ImportJob, job_id)
            assert done is not None
        assert done.status == ImportStatus.SUCCEEDED, done.error_message
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        records = max(done.records_processed, 1)
        server = f", server {server_cpu / records * 1e6:.1f}" if server_after else ""
        print(
            f"{database.dialect:>10}: {done.records_processed:,} records in {elapsed:.1f} s = "
            f"{done.records_processed / elapsed:,.0f} records/s; inserted "
            f"{done.records_inserted:,}, duplicates {done.records_duplicate:,}; "
            f"CPU us/record: client {client_cpu / records * 1e6:.1f}{server}; "
            f"peak RSS so far {peak_mb:,.0f} MB; "
            f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    finally:
        await database.dispose()


def prepare_archive(archive: Path, records: int, kept: Path | None) -> None:
    """Generate the export at `archive`, or copy the one kept from an earlier run."""
    marker = kept.with_name(kept.name + ".records") if kept else None
    if kept and marker and kept.is_file() and marker.read_text() == str(records):
        shutil.copyfile(kept, archive)
        print(f"reusing {records:,} records from {kept}", flush=True)
        return
    started = time.perf_counter()
    generate_export(archive, records)
    print(
        f"generated {records:,} records ({archive.stat().st_size / 1024**2:,.0f} MB zipped) "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    if kept and marker:
        shutil.copyfile(archive, kept)
        marker.write_text(str(records))


async def main() -> None:
    """Generate once, import on each database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--profile", type=Path, help="write cProfile stats to this file")
    parser.add_argument("--archive", type=Path, help="keep (and reuse) the export at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as temp:
        root = Path(temp)
        archive = root / "my_spotify_data.zip"
        await asyncio.to_thread(prepare_archive, archive, args.records, args.archive)
        if args.only in {None, "sqlite"}:
            sqlite = SqliteDatabaseFactory(root / "db")
            url = await sqlite.create()
            await import_once(url, archive, root / "imports", args.profile)
            await sqlite.drop(url)
        if args.only in {None, "postgresql"}:
            postgres = PostgresDatabaseFactory()
            url = await postgres.create()
            try:
                await import_once(url, archive, root / "imports", args.profile)
            finally:
                await postgres.drop_all()


if __name__ == "__main__":
    asyncio.run(main())
