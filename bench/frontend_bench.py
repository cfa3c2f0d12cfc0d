"""Admin UI benchmark: the server time of every page for a user with 1,000,000 plays.

Usage, from the repository root (it imports bench/query_bench.py as bench.query_bench):
.venv/bin/python -m bench.frontend_bench [--only sqlite|postgresql] [--plays N] [--others N]
[--calls N] [--reuse URL] [--keep] [--build-only]

Builds the database with bench/query_bench.py's data builder (one user of --plays plays,
1,000,000, and four of --others, 250,000), adds what the admin pages list (job runs, imports,
log lines), then starts the API and the admin UI as uvicorn servers on it, logs in like a
browser and requests every page and every fragment --calls (20) times. It prints, per page,
the server time from the UI's `Server-Timing` header (app: everything, the API calls it makes
included) as p50, p95 and max in milliseconds, whether the p95 stays under 300 ms, and the
p50 of the part spent waiting on the API (api) and of the rest (the UI's own work). The API
runs without its answer cache (HISTORY_CACHE_SECONDS=0), so every request computes its answer.

Before measuring, each history question is asked once directly of the API (the first one
brings the user's listening summaries up to date, which can take minutes after a bulk load);
that time is printed too.

--reuse URL measures a database kept earlier (query_bench.py --keep or this script's --keep).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, make_url, select

from bench.query_bench import ListenerProfile, build
from shared.db.enums import ImportStatus, JobStatus, JobType
from shared.db.manager import DatabaseManager
from shared.db.models import JobRun, Play, User
from testkit.databases import PostgresDatabaseFactory, SqliteDatabaseFactory
from testkit.factories import create_import_job, create_job_run, create_log_entry

BUDGET_MS = 300.0
CHARTS = (
    "top-artists",
    "top-tracks",
    "listening-day",
    "listening-week",
    "listening-month",
    "heatmap",
    "discoveries",
    "coverage",
)
PERIODS = ("365d", "all", "30d")


@dataclass(frozen=True)
class PageFigure:
    """Server times of one page: in all, and the p50s of the API's and the UI's own part."""

    path: str
    p50_ms: float
    p95_ms: float
    max_ms: float
    api_p50_ms: float
    own_p50_ms: float

    @property
    def within_budget(self) -> bool:
        """True when the p95 is under the 300 ms budget."""
        return self.p95_ms < BUDGET_MS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


async def add_admin_data(database: DatabaseManager, user_ids: list[int]) -> None:
    """What a running system accumulates besides plays: job runs, imports, log lines."""
    now = datetime.now(UTC)
    async with database.session(write=True) as session:
        users = list(await session.scalars(select(User).where(User.id.in_(user_ids))))
        for n in range(2_000):
            user = users[n % len(users)]
            failed = n % 40 == 0
            await create_job_run(
                session,
                user_id=user.id,
                job_type=JobType.POLL if n % 50 else JobType.INITIAL_SYNC,
                status=JobStatus.FAILED if failed else JobStatus.SUCCEEDED,
                scheduled_at=now - timedelta(minutes=10 * n),
                started_at=now - timedelta(minutes=10 * n),
                finished_at=now - timedelta(minutes=10 * n - 1),
                records_fetched=n % 50,
                records_inserted=n % 50,
                error_message="Spotify answered 502" if failed else None,
            )
        for n, user in enumerate(users):
            await create_import_job(
                session,
                user=user,
                original_filename=f"my_spotify_data_{n}.zip",
                status=ImportStatus.SUCCEEDED,
                records_total=250_000,
                records_processed=250_000,
                records_inserted=249_000,
                records_duplicate=1_000,
            )
        for n in range(5_000):
            await create_log_entry(
                session,
                service=("api", "collector", "frontend")[n % 3],
                level="ERROR" if n % 100 == 0 else "INFO",
                message=f"bench log line {n}",
                request_id=f"req-{n:06d}",
                user_id=users[n % len(users)].id,
                created_at=now - timedelta(seconds=30 * n),
            )


class RunningServers:
    """The API and the admin UI as uvicorn processes on one database."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.password = secrets.token_urlsafe(24)
        self.api_url = f"http://127.0.0.1:{_free_port()}"
        self.ui_url = f"http://127.0.0.1:{_free_port()}"
        keep = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
        common = {
            **keep,
            "APP_ENV": "dev",
            "LOG_LEVEL": "WARNING",
            "LOG_TO_DATABASE": "false",
            "SECRET_KEY": secrets.token_urlsafe(32),
        }
        api_env = {
            **common,
            "DATABASE_URL": database_url,
            "ADMIN_TOKEN": secrets.token_urlsafe(32),
            "ADMIN_PASSWORD": self.password,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "CREDENTIAL_FAILURE_RATE_LIMIT": "10000000/minute",
            # Every request computes its answer: a repeated chart would come from the cache.
            "HISTORY_CACHE_SECONDS": "0",
        }
        ui_env = {**common, "API_BASE_URL": self.api_url}
        self._processes = [
            self._start("app.main:create_app", self.api_url, api_env, workdir),
            self._start("frontend.main:create_app", self.ui_url, ui_env, workdir),
        ]

    @staticmethod
    def _start(
        factory: str, url: str, env: dict[str, str], workdir: Path
    ) -> subprocess.Popen[bytes]:
        port = url.rsplit(":", 1)[1]
        return subprocess.Popen(  # noqa: S603 - this interpreter, stopped in close()
            [
                *(sys.executable, "-m", "uvicorn", factory, "--factory"),
                *("--host", "127.0.0.1", "--port", port, "--no-access-log"),
                *("--log-level", "warning"),
            ],
            cwd=workdir,  # away from the checkout's .env
            env=env,
        )

    async def wait_until_up(self) -> None:
        """Return once both answer their health checks."""
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                for process in self._processes:
                    if process.poll() is not None:
                        raise RuntimeError(f"a server exited with {process.returncode}")
                try:
                    api = await client.get(f"{self.api_url}/healthz")
                    ui = await client.get(f"{self.ui_url}/healthz")
                    if api.status_code == ui.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("the servers did not start within 60 s")

    def close(self) -> None:
        """Stop both servers."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


async def log_in(browser: httpx.AsyncClient, password: str) -> None:
    """The login form, as a browser sends it."""
    form = await browser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, "no CSRF token on the login page"
    response = await browser.post(
        "/login", data={"username": "admin", "password": password, "csrf_token": token.group(1)}
    )
    if response.status_code != 303:
        raise RuntimeError(f"the login failed with {response.status_code}")


def pages_of(user_id: int) -> list[str]:
    """Every page and fragment of the UI, the analytics ones for the big user."""
    pages = [
        "/",
        "/partials/dashboard",
        "/users",
        f"/users/{user_id}",
        "/jobs",
        "/jobs?status=failed",
        "/imports",
        "/partials/imports",
        "/logs",
        "/logs?text=line%204&level=INFO",
        "/partials/logs",
        "/analytics",
        f"/analytics/{user_id}",
    ]
    for period in PERIODS:
        pages += [f"/partials/analytics/{user_id}/{chart}?period={period}" for chart in CHARTS]
    return pages


async def warm_summaries(servers: RunningServers, user_id: int) -> None:
    """Ask every history question the charts use once, straight from the API."""
    auth = ("admin", servers.password)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=servers.api_url, auth=auth, timeout=1800) as api:
        for question in ("top-artists", "listening-time", "discoveries", "coverage", "heatmap"):
            response = await api.get(f"/history/users/{user_id}/{question}")
            response.raise_for_status()
    print(
        "  first history answers (summaries brought up to date): "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )


async def measure_pages(servers: RunningServers, user_id: int, calls: int) -> list[PageFigure]:
    """Request each page `calls` times after one warm-up; print a line per page."""
    figures: list[PageFigure] = []
    async with httpx.AsyncClient(base_url=servers.ui_url, timeout=300) as browser:
        await log_in(browser, servers.password)
        print(
            f"  {'page':<56} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'api p50':>8} "
            f"{'ui p50':>7}",
            flush=True,
        )
        for path in pages_of(user_id):
            warm = await browser.get(path)
            if warm.status_code != 200 or 'data-chart-state="problem"' in warm.text:
                raise RuntimeError(f"{path} answered {warm.status_code}: {warm.text[:300]}")
            samples: list[float] = []
            api_samples: list[float] = []
            for _ in range(calls):
                response = await browser.get(path)
                timing = re.fullmatch(
                    r"app;dur=([\d.]+), api;dur=([\d.]+)", response.headers["server-timing"]
                )
                assert timing is not None
                samples.append(float(timing.group(1)))
                api_samples.append(float(timing.group(2)))
            own = [total - api for total, api in zip(samples, api_samples, strict=True)]
            figure = PageFigure(
                path,
                statistics.median(samples),
                _percentile(samples, 0.95),
                max(samples),
                statistics.median(api_samples),
                statistics.median(own),
            )
            figures.append(figure)
            flag = "" if figure.within_budget else "  over"
            print(
                f"  {path:<56} {figure.p50_ms:>7.1f} {figure.p95_ms:>7.1f} {figure.max_ms:>7.1f} "
                f"{figure.api_p50_ms:>8.1f} {figure.own_p50_ms:>7.1f}{flag}",
                flush=True,
            )
    slow = [figure.path for figure in figures if not figure.within_budget]
    print(
        f"  {len(figures) - len(slow)} of {len(figures)} pages with p95 under "
        f"{BUDGET_MS:.0f} ms" + (f"; over: {', '.join(slow)}" if slow else ""),
        flush=True,
    )
    return figures


async def run(url: str, args: argparse.Namespace, *, build_first: bool) -> None:
    """Build (unless reused), start the servers and measure one database."""
    database = DatabaseManager(url)
    try:
        one, five, _ = os.getloadavg()
        print(f"{database.dialect}: load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs")
        if build_first:
            now = datetime.now(UTC).replace(microsecond=0)
            profiles = [ListenerProfile(args.plays, now - timedelta(days=12 * 365), now, 1)]
            profiles += [
                ListenerProfile(args.others, now - timedelta(days=(4 + n) * 365), now, 2 + n)
                for n in range(4 if args.others else 0)
            ]
            started = time.perf_counter()
            user_ids = await build(database, profiles)
            await add_admin_data(database, user_ids)
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
            jobs = await session.scalar(select(func.count()).select_from(JobRun))
        print(f"  user {user_id}: {plays:,} plays; {jobs:,} job runs; {args.calls} calls/page")
    finally:
        await database.dispose()
    if args.build_only:
        return
    with tempfile.TemporaryDirectory(prefix="frontend-bench-") as workdir:
        servers = RunningServers(url, Path(workdir))
        try:
            await servers.wait_until_up()
            await warm_summaries(servers, user_id)
            await measure_pages(servers, user_id, args.calls)
        finally:
            servers.close()


async def main() -> None:
    """Parse the arguments and run each dialect."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=250_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--reuse", help="measure this database URL instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the built databases")
    parser.add_argument("--build-only", action="store_true", help="build, do not measure")
    args = parser.parse_args()
    if args.reuse:
        await run(args.reuse, args, build_first=False)
        return
    if args.only in {None, "sqlite"}:
        folder = Path(tempfile.mkdtemp(prefix="frontend-bench-"))
        sqlite = SqliteDatabaseFactory(folder)
        url = await sqlite.create()
        try:
            await run(url, args, build_first=True)
        finally:
            if args.keep:
                print(f"  kept: --reuse {url}", flush=True)
            else:
                shutil.rmtree(folder)  # the database and its template
    if args.only in {None, "postgresql"}:
        postgres = PostgresDatabaseFactory()
        url = await postgres.create()
        try:
            await run(url, args, build_first=True)
        finally:
            if args.keep:
                template = make_url(url).set(database=await postgres.template())
                await postgres.drop(template.render_as_string(hide_password=False))
                print(f"  kept: --reuse {url}", flush=True)
            else:
                await postgres.drop_all()


if __name__ == "__main__":
    asyncio.run(main())
