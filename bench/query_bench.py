"""History query benchmark: every history tool on a user with 1,000,000 plays, p50 and p95.

Usage: .venv/bin/python bench/query_bench.py [--only sqlite|postgresql] [--plays N]
[--others N] [--calls N] [--reuse URL] [--keep] [--build-only] [--raw] [--tool-api]
[--tool-api-only] [--clients N] [--seconds S] [--workers N,...]

Builds a fresh database per dialect (a SQLite file in a temporary folder; a PostgreSQL
database on the server at TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test,
dropped afterwards unless --keep), fills it with one user of --plays plays (1,000,000) and four
of --others (250,000): Zipf-distributed artists and tracks whose favourites drift over the
years, a daily rhythm, skips, podcast episodes, and the three sources. It then times --calls
(50) calls of every history tool on the big user for its default arguments (the whole history),
for the last year and for the last 30 days, and prints p50 and p95 in milliseconds, the first
call and the largest answer in characters, each call in a session of its own on a pooled
connection, as the API server runs them. The listening summaries are brought up to date
(timed) before the calls. compare_periods, which needs a period A with a start, compares the
last 5 years, the last year and the last 30 days with the stretch as long right before.

--reuse URL measures an existing database built earlier with --keep instead of building one.
--tool-api then measures `POST /mcp/call` throughput: --clients (32) concurrent clients
for --seconds (20) against a live uvicorn server of the API app on the same database, once
with the answer cache as configured by default (HISTORY_CACHE_SECONDS=30: the clients repeat
the same eleven questions) and once without it (every call computed), with one API process
and with two (--workers, API_WORKERS).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.history.buckets import BucketSize
from app.history.schemas import PlayFilter
from app.history.service import HistoryService
from app.history.summaries import ListeningSummaries
from shared.db.enums import PlaySource
from shared.db.manager import DatabaseManager
from shared.db.migrate import MigrationRunner
from shared.db.models import Play
from shared.plays.writer import ItemRow, PlayOrigin, PlayRow, PlayWriter
from shared.runtime import settle_heap
from testkit.databases import PostgresDatabaseFactory, SqliteDatabaseFactory
from testkit.factories import create_user

ARTISTS = 12_000
TRACKS = 120_000
SHOWS = 25
EPISODES_PER_SHOW = 120
EPISODE_SHARE = 0.03
ROTATION = 800
"""Tracks in a listener's current rotation, which moves on by ROTATION_STEP every era."""
ROTATION_STEP = 300
ROTATION_SHARE = 0.75
ERA_DAYS = 120
SKIP_SHARE = 0.35
FEATURED_SHARE = 0.12
BATCH = 25_000
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Relative listening per local hour of the day: quiet nights, busy commutes and evenings.
_HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 5, 9, 10, 8, 7, 7, 8, 7, 7, 8, 9, 10, 11, 12, 12, 10, 7, 4]


def _spotify_id(rng: random.Random) -> str:
    return "".join(rng.choices(_ALPHABET, k=22))


def _zipf_cumulative(count: int, exponent: float) -> list[float]:
    return list(accumulate(1 / rank**exponent for rank in range(1, count + 1)))


@dataclass(frozen=True)
class Catalogue:
    """Tracks (with their artists) and podcast episodes, as the play writer stores them."""

    items: dict[str, ItemRow]
    track_ids: list[str]
    episode_ids: list[str]

    @classmethod
    def generate(cls, rng: random.Random) -> Catalogue:
        """Artists with Zipf-distributed catalogues, some featured artists, and shows."""
        artists = [(_spotify_id(rng), f"Artist {n}") for n in range(ARTISTS)]
        artist_weights = _zipf_cumulative(ARTISTS, 0.9)
        items: dict[str, ItemRow] = {}
        track_ids: list[str] = []
        for n in range(TRACKS):
            track_id = _spotify_id(rng)
            credits = [artists[bisect.bisect(artist_weights, rng.random() * artist_weights[-1])]]
            if rng.random() < FEATURED_SHARE:
                featured = artists[rng.randrange(ARTISTS)]
                if featured != credits[0]:
                    credits.append(featured)
            album = n // 12
            items[track_id] = ItemRow(
                row=(
                    track_id,
                    "track",
                    f"Track {n}",
                    f"album{album:017d}",
                    f"Album {album}",
                    None,
                    rng.randint(120_000, 360_000),
                    None,
                    rng.random() < 0.1,
                ),
                artists=tuple(credits),
            )
            track_ids.append(track_id)
        episode_ids: list[str] = []
        for show in range(SHOWS):
            for episode in range(EPISODES_PER_SHOW):
                episode_id = _spotify_id(rng)
                items[episode_id] = ItemRow(
                    row=(
                        episode_id,
                        "episode",
                        f"Show {show} episode {episode}",
                        None,
                        None,
                        f"Show {show}",
                        rng.randint(900_000, 3_600_000),
                        None,
                        False,
                    )
                )
                episode_ids.append(episode_id)
        return cls(items, track_ids, episode_ids)


@dataclass(frozen=True)
class ListenerProfile:
    """One simulated listener: how many plays, over which years, with which taste."""

    plays: int
    first_day: datetime
    last_day: datetime
    seed: int


class ListeningGenerator:
    """Plays of one listener: daily rhythm, idle days, rotating favourites, a long tail."""

    def __init__(self, catalogue: Catalogue, profile: ListenerProfile, user_id: int) -> None:
        self._catalogue = catalogue
        self._profile = profile
        self._user_id = user_id
        self._rng = random.Random(profile.seed)

    def _moments(self) -> list[datetime]:
        rng, profile = self._rng, self._profile
        days = (profile.last_day - profile.first_day).days
        # Idle days (holidays, busy weeks) and slowly growing listening.
        day_weights = [
            0.0 if rng.random() < 0.08 else (0.5 + day / days) * rng.uniform(0.3, 1.7)
            for day in range(days)
        ]
        chosen_days = rng.choices(range(days), weights=day_weights, k=profile.plays)
        hours = rng.choices(range(24), weights=_HOUR_WEIGHTS, k=profile.plays)
        seconds = sorted(
            day * 86_400 + hour * 3_600 + rng.randrange(3_600)
            for day, hour in zip(chosen_days, hours, strict=True)
        )
        return [profile.first_day + timedelta(seconds=s) for s in seconds]

    def batches(self, size: int) -> Iterator[tuple[PlaySource, list[PlayRow]]]:
        """The listener's plays, oldest first, in batches of up to `size` of one source."""
        rng = self._rng
        tracks = list(self._catalogue.track_ids)
        rng.shuffle(tracks)  # each listener has their own favourites
        episodes = self._catalogue.episode_ids
        library_weights = _zipf_cumulative(len(tracks), 0.9)
        rotation_weights = _zipf_cumulative(ROTATION, 0.7)
        episode_weights = _zipf_cumulative(len(episodes), 1.2)
        moments = self._moments()
        api_since = self._profile.last_day - timedelta(days=700)
        batches: dict[PlaySource, list[PlayRow]] = {source: [] for source in PlaySource}
        for moment in moments:
            played_at = moment
            if rng.random() < EPISODE_SHARE:
                pick = bisect.bisect(episode_weights, rng.random() * episode_weights[-1])
                item_id, kind, ms = episodes[pick], "episode", rng.randint(60_000, 3_600_000)
            elif rng.random() < ROTATION_SHARE:
                rank = bisect.bisect(rotation_weights, rng.random() * rotation_weights[-1])
                era = (moment - self._profile.first_day).days // ERA_DAYS
                # Rotations start past the library's head, which stays in the long tail.
                position = 2_000 + era * ROTATION_STEP + rank
                item_id, kind = tracks[position % len(tracks)], "track"
            else:
                rank = bisect.bisect(library_weights, rng.random() * library_weights[-1])
                item_id, kind = tracks[rank], "track"
            if kind == "track":
                skipped = rng.random() < SKIP_SHARE
                ms = rng.randint(500, 29_999) if skipped else rng.randint(30_000, 360_000)
            if played_at >= api_since:
                source = PlaySource.API
            elif rng.random() < 0.1:
                source = PlaySource.ACCOUNT_EXPORT
                played_at = played_at.replace(second=0)  # account data has minutes only
            else:
                source = PlaySource.EXTENDED_EXPORT
            batch = batches[source]
            batch.append(
                (
                    item_id,
                    played_at,
                    ms,
                    kind,
                    None,
                    None,
                    "trackdone",
                    "fwdbtn" if ms < 30_000 else "trackdone",
                    ms < 30_000,
                    rng.random() < 0.4,
                    False,
                    "android",
                )
            )
            if len(batch) == size:
                yield source, batch
                batches[source] = []
        for source, batch in batches.items():
            if batch:
                yield source, batch


async def build(database: DatabaseManager, profiles: list[ListenerProfile]) -> list[int]:
    """Create one user per profile and store their plays in bulk; returns the user ids."""
    started = time.perf_counter()
    catalogue = await asyncio.to_thread(Catalogue.generate, random.Random(11))
    writer = PlayWriter()
    user_ids: list[int] = []
    stored = 0
    for number, profile in enumerate(profiles):
        async with database.session(write=True) as session:
            user = await create_user(
                session, spotify_user_id=f"bench-{number}", timezone="Europe/Stockholm"
            )
            user_ids.append(user.id)
        generator = ListeningGenerator(catalogue, profile, user.id)
        for source, rows in generator.batches(BATCH):
            items = [catalogue.items[track_id] for track_id in {row[0] for row in rows}]
            async with database.session(write=True) as session:
                result = await writer.write_rows(session, PlayOrigin(user.id, source), rows, items)
            stored += result.inserted
        print(
            f"  user {user.id}: {profile.plays:,} plays generated, {stored:,} stored so far, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return user_ids


ToolCall = Callable[[HistoryService, AsyncSession, int, PlayFilter], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Window:
    """A window the tools are asked about: the default whole history, a year, 30 days."""

    name: str
    filters: PlayFilter
    comparison: PlayFilter
    """Period A of compare_periods (B: as long, right before), which needs a start."""


WINDOWS = [
    Window("all time", PlayFilter(), PlayFilter(days=5 * 365)),
    Window("one year", PlayFilter(days=365), PlayFilter(days=365)),
    Window("30 days", PlayFilter(days=30), PlayFilter(days=30)),
]


def tool_calls(top_artist: str) -> dict[str, Callable[[Window], ToolCall]]:
    """Every history tool with its default arguments, per window."""

    def plain(method: str, **kwargs: Any) -> Callable[[Window], ToolCall]:
        def for_window(window: Window) -> ToolCall:
            async def call(
                service: HistoryService, session: AsyncSession, user_id: int, filters: PlayFilter
            ) -> BaseModel:
                result: BaseModel = await getattr(service, method)(
                    session, user_id, filters, **kwargs
                )
                return result

            return call

        return for_window

    def compare(window: Window) -> ToolCall:
        async def call(
            service: HistoryService, session: AsyncSession, user_id: int, _filters: PlayFilter
        ) -> BaseModel:
            return await service.compare_periods(session, user_id, window.comparison)

        return call

    return {
        "top_artists": plain("top_artists"),
        "top_tracks": plain("top_tracks"),
        "listening_heatmap": plain("heatmap"),
        "repeat_rate": plain("repeat_rate"),
        "coverage": plain("coverage"),
        "taste_summary": plain("taste_summary"),
        "play_history": plain("play_history"),
        "first_listen": plain("first_listen", artist=top_artist),
        "discoveries": plain("discoveries"),
        "compare_periods": compare,
        "listening_time": plain("listening_time", bucket=BucketSize.DAY),
    }


@dataclass(frozen=True)
class Figure:
    """Timings of one tool on one window."""

    tool: str
    window: str
    first_ms: float
    p50_ms: float
    p95_ms: float
    answer_chars: int


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


async def _timed(
    database: DatabaseManager, service: HistoryService, call: ToolCall, user_id: int, f: PlayFilter
) -> tuple[float, int]:
    started = time.perf_counter()
    async with database.session() as session:
        result = await call(service, session, user_id, f)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, len(result.model_dump_json())


async def measure(
    database: DatabaseManager, user_id: int, calls: int, *, raw: bool = False
) -> list[Figure]:
    """Time every tool on every window; print each line as it is measured."""
    service = HistoryService(use_summaries=not raw)
    async with database.session() as session:
        top = await service.top_artists(session, user_id, PlayFilter(), limit=1)
    top_artist = top.artists[0].name if top.artists else "Artist 0"
    settle_heap()  # as the API's process does once it has started
    figures: list[Figure] = []
    print(
        f"  {'tool':<18} {'window':<9} {'p50 ms':>8} {'p95 ms':>8} {'first ms':>9} "
        f"{'answer chars':>13}",
        flush=True,
    )
    for tool, for_window in tool_calls(top_artist).items():
        for window in WINDOWS:
            call = for_window(window)
            first_ms, chars = await _timed(database, service, call, user_id, window.filters)
            samples: list[float] = []
            for _ in range(calls):
                elapsed, size = await _timed(database, service, call, user_id, window.filters)
                samples.append(elapsed)
                chars = max(chars, size)
            figure = Figure(
                tool,
                window.name,
                first_ms,
                statistics.median(samples),
                _percentile(samples, 0.95),
                chars,
            )
            figures.append(figure)
            print(
                f"  {tool:<18} {window.name:<9} {figure.p50_ms:>8.1f} {figure.p95_ms:>8.1f} "
                f"{figure.first_ms:>9.1f} {figure.answer_chars:>13,}",
                flush=True,
            )
    return figures


# -- POST /mcp/call throughput ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_environment(database_url: str, admin_token: str, cache_seconds: int) -> dict[str, str]:
    """The API's settings for the benchmark: this database, no tool rate limit to speak of."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TZ"}}
    # PostgreSQL serves 32 clients better with as many connections; SQLite keeps the default
    # pool (its connections are threads of the API process).
    pool = (
        {}
        if database_url.startswith("sqlite")
        else {"DATABASE_POOL_SIZE": "20", "DATABASE_MAX_OVERFLOW": "20"}
    )
    return {
        **keep,
        **pool,
        "APP_ENV": "dev",
        "LOG_LEVEL": "WARNING",
        "LOG_TO_DATABASE": "false",
        "DATABASE_URL": database_url,
        "ADMIN_TOKEN": admin_token,
        "ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "TOOL_RATE_LIMIT": "10000000/minute",
        "CREDENTIAL_FAILURE_RATE_LIMIT": "10000000/minute",
        "HISTORY_CACHE_SECONDS": str(cache_seconds),
    }


async def _wait_until_up(base_url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError(f"the API server exited with {server.returncode}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API server did not start within 30 s")


async def measure_tool_api(
    database_url: str, user_id: int, clients: int, seconds: float, workers: list[int]
) -> None:
    """`POST /mcp/call` requests/s and errors, with the answer cache as configured by default
    (repeated questions, as assistants and the admin UI's charts ask them) and without it,
    for each number of API processes."""
    for processes in workers:
        for cache_seconds in (30, 0):
            await _measure_tool_api(
                database_url, user_id, clients, seconds, cache_seconds, processes
            )


async def _measure_tool_api(
    database_url: str,
    user_id: int,
    clients: int,
    seconds: float,
    cache_seconds: int,
    workers: int,
) -> None:
    admin_token = secrets.token_urlsafe(32)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="query-bench-api-") as cwd:
        server = subprocess.Popen(  # noqa: S603, ASYNC220 (this interpreter; stopped below)
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=cwd,  # away from the checkout's .env
            env=_server_environment(database_url, admin_token, cache_seconds),
        )
        try:
            await _wait_until_up(base_url, server)
            print(f"  API_WORKERS={workers}, HISTORY_CACHE_SECONDS={cache_seconds}:", flush=True)
            await _drive_tool_calls(base_url, admin_token, user_id, clients, seconds)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


async def _drive_tool_calls(
    base_url: str, admin_token: str, user_id: int, clients: int, seconds: float
) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        listed = (await client.get("/mcp/tools")).json()
        tools = sorted(t["name"] for t in listed["tools"] if t["name"].startswith("history."))
        # One call of each first, so the figures do not include summaries catching up.
        for tool in tools:
            await client.post("/mcp/call", json=_tool_call(tool, user_id))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def one_client(number: int) -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=60, limits=limits
        ) as http:
            turn = number
            while time.perf_counter() < deadline:
                tool = tools[turn % len(tools)]
                turn += 1
                started = time.perf_counter()
                try:
                    response = await http.post("/mcp/call", json=_tool_call(tool, user_id))
                    outcome = "ok" if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = exc.__class__.__name__
                latencies.append((time.perf_counter() - started) * 1000)
                if outcome != "ok":
                    errors[outcome] = errors.get(outcome, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one_client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    print(
        f"  POST /mcp/call, {clients} clients, {len(tools)} history tools in turn, default "
        f"arguments: {len(latencies) / elapsed:,.1f} requests/s over {elapsed:.0f} s; "
        f"{sum(errors.values())} errors {errors or ''}; latency p50 "
        f"{statistics.median(latencies):.0f} ms, p95 {_percentile(latencies, 0.95):.0f} ms",
        flush=True,
    )


def _tool_call(tool: str, user_id: int) -> dict[str, Any]:
    args: dict[str, Any] = {"user_id": user_id}
    if tool == "history.first_listen":
        args["artist"] = "Artist 0"
    if tool == "history.compare_periods":
        args["a_days"] = 365
    return {"tool": tool, "args": args}


# -- driver -------------------------------------------------------------------------------


async def _vacuum(database: DatabaseManager) -> None:
    """On PostgreSQL, what autovacuum does after bulk writes: statistics, visibility map."""
    # A fresh bulk load has neither, and the planner then misjudges.
    if database.is_sqlite:
        return
    started = time.perf_counter()
    async with database.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f} s", flush=True)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return (
        f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs; "
        f"this interpreter counts to 10,000,000 in {_reference_ms():.0f} ms"
    )


def _reference_ms() -> float:
    """A fixed piece of pure Python, timed: shared machines run it at different speeds from
    one hour to the next, and every figure here moves with it."""
    started = time.perf_counter()
    total = 0
    for step in range(10_000_000):
        total += step
    return (time.perf_counter() - started) * 1000


async def run(url: str, args: argparse.Namespace, *, build_first: bool) -> None:
    """Build (unless reused) and measure one database."""
    # Pooled as the API server pools it (SQLite too): connections and their page caches last.
    database = DatabaseManager(url, pool_sqlite=True)
    try:
        print(f"{database.dialect}: {_load()}", flush=True)
        await MigrationRunner(database).upgrade()
        if build_first:
            now = datetime.now(UTC).replace(microsecond=0)
            profiles = [ListenerProfile(args.plays, now - timedelta(days=12 * 365), now, 1)]
            profiles += [
                ListenerProfile(args.others, now - timedelta(days=(4 + n) * 365), now, 2 + n)
                for n in range(4)
            ]
            started = time.perf_counter()
            await build(database, profiles)
            print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        async with database.session() as session:
            user_id, plays = (
                await session.execute(
                    select(Play.user_id, func.count())
                    .group_by(Play.user_id)
                    .order_by(func.count().desc())
                    .limit(1)
                )
            ).one()
        print(f"  user {user_id}: {plays:,} plays; {args.calls} calls per line", flush=True)
        if args.build_only:
            return
        if args.raw:
            print("  answers from the plays alone (--raw), without the summaries", flush=True)
        else:
            started = time.perf_counter()
            async with database.session(write=True) as session:
                await ListeningSummaries().refresh(session)
            elapsed = time.perf_counter() - started
            print(f"  listening summaries brought up to date in {elapsed:.1f} s", flush=True)
        await _vacuum(database)
        if not args.tool_api_only:
            await measure(database, user_id, args.calls, raw=args.raw)
            print(f"  after: {_load()}", flush=True)
        if args.tool_api or args.tool_api_only:
            await measure_tool_api(url, user_id, args.clients, args.seconds, args.workers)
    finally:
        await database.dispose()


async def main() -> None:
    """Parse the arguments and run each dialect."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=250_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--reuse", help="measure this database URL instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the built databases")
    parser.add_argument("--build-only", action="store_true", help="build, do not measure")
    parser.add_argument(
        "--raw", action="store_true", help="answer from the plays alone, without the summaries"
    )
    parser.add_argument("--tool-api", action="store_true", help="also measure POST /mcp/call")
    parser.add_argument("--tool-api-only", action="store_true", help="measure POST /mcp/call only")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="API processes to measure the tool API with, comma-separated (1,2)",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.reuse:
        await run(args.reuse, args, build_first=False)
        return
    folder = Path(tempfile.mkdtemp(prefix="query-bench-"))
    if args.only in {None, "sqlite"}:
        sqlite = SqliteDatabaseFactory(folder)
        url = await sqlite.create()
        try:
            await run(url, args, build_first=True)
        finally:
            if args.keep:
                print(f"  kept: --reuse {url}", flush=True)
            else:
                await sqlite.drop(url)
    if args.only in {None, "postgresql"}:
        postgres = PostgresDatabaseFactory()
        url = await postgres.create()
        try:
            await run(url, args, build_first=True)
        finally:
            if args.keep:
                print(f"  kept: --reuse {url}", flush=True)
            else:
                await postgres.drop_all()


if __name__ == "__main__":
    asyncio.run(main())
