"""`spotify-mcp`: run the services, migrate the database, and (later) import and manage tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import dotenv_values

from shared.config import AppEnv, BaseServiceSettings
from shared.config.local_secrets import DEFAULT_LOCAL_SECRETS_PATH, LocalSecrets
from shared.crypto import TokenEncryptor
from shared.db.manager import DatabaseManager
from shared.db.migrate import MigrationRunner
from shared.logging import configure_logging
from shared.token_rotation import StoredTokenRotator
from spotify_mcp.demo import DemoSeed, DemoSeeder
from spotify_mcp.supervisor import ChildSpec, ProcessSupervisor

logger = logging.getLogger("spotify_mcp")

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./data/demo.db"
DEMO_FAKE_SPOTIFY_PORT = 8090
DEMO_FAKE_STATE_FILE = Path("data") / "demo-fake-spotify.json"


def _service(name: str) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-m", "spotify_mcp", name])


class SpotifyMcpCli:
    """The command line: one subcommand per way of running the system."""

    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser(
            prog="spotify-mcp",
            description="Self-hosted Spotify listening history with AI analysis tools.",
        )
        commands = self.parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        commands.add_parser(
            "serve", help="migrate, then run api (:8000), frontend (:8001) and collector"
        )
        commands.add_parser(
            "demo", help="like serve, against the bundled fake Spotify with a demo user"
        )
        migrate = commands.add_parser("migrate", help="apply database migrations")
        migrate.add_argument("--revision", default="head", help="target revision (default head)")
        archive = commands.add_parser(
            "import", help="import a Spotify privacy-export ZIP in-process, with a progress bar"
        )
        archive.add_argument("path", type=Path, help="the export ZIP")
        archive.add_argument(
            "--user", required=True, help="Spotify user ID (an import-only user is created)"
        )
        commands.add_parser(
            "rotate-keys",
            help="re-encrypt stored Spotify tokens under the first TOKEN_ENCRYPTION_KEYS key",
        )
        commands.add_parser("api", help="run only the API")
        commands.add_parser("frontend", help="run only the admin frontend")
        commands.add_parser("collector", help="run only the collector")

    def run(self, argv: Sequence[str] | None = None) -> int:
        """Parse the arguments and run the chosen command; returns the exit code."""
        args = self.parser.parse_args(argv)
        handler = {
            "serve": self.serve,
            "demo": self.demo,
            "migrate": self.migrate,
            "rotate-keys": self.rotate_keys,
            "import": self.import_archive,
            "api": self.api,
            "frontend": self.frontend,
            "collector": self.collector,
        }[args.command]
        return handler(args)

    # -- whole system ---------------------------------------------------------------------

    def serve(self, _args: argparse.Namespace) -> int:
        """Run the three services in the foreground until Ctrl-C."""
        settings = self._prepare_local_run()
        self._announce(settings)
        children = [_service("api"), _service("frontend"), _service("collector")]
        return ProcessSupervisor(children, env=os.environ).run()

    def demo(self, _args: argparse.Namespace) -> int:
        """Run everything against the fake Spotify with a seeded demo user."""
        os.environ.setdefault("DATABASE_URL", DEMO_DATABASE_URL)
        fake_port = int(os.environ.get("FAKE_SPOTIFY_PORT", DEMO_FAKE_SPOTIFY_PORT))
        fake_url = f"http://127.0.0.1:{fake_port}"
        client_id = "demo-client"
        client_secret = secrets.token_urlsafe(24)  # lives only as long as this run
        os.environ.update(
            {
                "DEMO_MODE": "true",
                "SPOTIFY_CLIENT_ID": client_id,
                "SPOTIFY_CLIENT_SECRET": client_secret,
                "SPOTIFY_ACCOUNTS_URL": fake_url,
                "SPOTIFY_API_URL": f"{fake_url}/v1",
            }
        )
        settings = self._prepare_local_run()

        seeded = asyncio.run(self._seed_demo(settings, DemoSeeder))
        logger.info(
            "demo data ready",
            extra={"demo_user": seeded.spotify_user_id, "plays": seeded.plays},
        )
        self._announce(settings)
        fake = ChildSpec(
            "fake-spotify",
            [
                sys.executable,
                "-m",
                "fake_spotify",
                "--port",
                str(fake_port),
                "--client-id",
                client_id,
                "--redirect-uri",
                settings.spotify.spotify_redirect_uri,
                "--history-anchor",
                seeded.history_anchor.isoformat(),
                # The fake's grants outlive a restart, so stored demo tokens keep working.
                "--state-file",
                str(DEMO_FAKE_STATE_FILE),
            ],
        )
        children = [fake, _service("api"), _service("frontend"), _service("collector")]
        # The secret reaches the fake through its environment, never its visible argv.
        env = {**os.environ, "FAKE_SPOTIFY_CLIENT_SECRET": client_secret}
        return ProcessSupervisor(children, env=env).run()

    def migrate(self, args: argparse.Namespace) -> int:
        """Apply migrations up to a revision."""
        configure_logging("cli", "INFO")
        settings = BaseServiceSettings()
        asyncio.run(self._migrate(settings, args.revision))
        return 0

    def rotate_keys(self, _args: argparse.Namespace) -> int:
        """Re-encrypt every stored token under the primary key, so older keys can be dropped."""
        configure_logging("cli", "INFO")
        settings = BaseServiceSettings()

        async def _rotate() -> int:
            database = DatabaseManager.from_settings(settings.database)
            try:
                async with database.session() as session:
                    rotator = StoredTokenRotator(TokenEncryptor.from_settings(settings))
                    return await rotator.rotate_all(session)
            finally:
                await database.dispose()

        changed = asyncio.run(_rotate())
        logger.info("stored tokens re-encrypted under the first key", extra={"users": changed})
        return 0

    def import_archive(self, args: argparse.Namespace) -> int:
        """Import an export ZIP for a user now; 0 when it succeeded, 1 otherwise."""
        from collector.imports.intake import import_file_now  # noqa: PLC0415
        from collector.settings import CollectorSettings  # noqa: PLC0415

        configure_logging("cli", os.environ.get("LOG_LEVEL", "WARNING"))
        if not args.path.is_file():
            print(f"no such file: {args.path}", file=sys.stderr)
            return 2
        settings = CollectorSettings()
        return asyncio.run(import_file_now(settings, args.path, args.user, sys.stderr))

    # -- single services ------------------------------------------------------------------

    def api(self, _args: argparse.Namespace) -> int:
        """Run only the API (uvicorn)."""
        from app.settings import AppSettings  # noqa: PLC0415

        settings = AppSettings()
        self._run_asgi("app.main:create_app", settings.api_host, settings.api_port)
        return 0

    def frontend(self, _args: argparse.Namespace) -> int:
        """Run only the admin frontend (uvicorn)."""
        from frontend.settings import FrontendSettings  # noqa: PLC0415

        settings = FrontendSettings()
        self._run_asgi("frontend.main:create_app", settings.frontend_host, settings.frontend_port)
        return 0

    @staticmethod
    def _run_asgi(factory: str, host: str, port: int) -> None:
        import uvicorn  # noqa: PLC0415

        # log_config=None: the app factory installs the JSON logging, uvicorn's lines included.
        # proxy_headers=False: X-Forwarded-* is judged by the app against TRUSTED_PROXIES
        # alone, not also by uvicorn's own (different) list.
        uvicorn.run(
            factory, factory=True, host=host, port=port, log_config=None, proxy_headers=False
        )

    def collector(self, _args: argparse.Namespace) -> int:
        """Run only the collector."""
        from collector.main import CollectorService  # noqa: PLC0415
        from collector.settings import CollectorSettings  # noqa: PLC0415

        settings = CollectorSettings()
        database = DatabaseManager.from_settings(settings.database)

        async def _run() -> None:
            handler = configure_logging(
                "collector",
                settings.log_level,
                database=database if settings.log_to_database else None,
            )
            if handler is not None:
                await handler.start()
            try:
                await CollectorService(settings, database).run()
            finally:
                if handler is not None:
                    await handler.stop()
                await database.dispose()

        asyncio.run(_run())
        return 0

    # -- shared steps ---------------------------------------------------------------------

    def _prepare_local_run(self) -> BaseServiceSettings:
        """Generate local secrets (dev only), agree on local URLs, migrate; returns the settings."""
        configure_logging("cli", os.environ.get("LOG_LEVEL", "INFO"))
        dotenv_file = dotenv_values(".env") if Path(".env").exists() else {}
        # Only settings .env gives a value count as configured: .env.example lists them all.
        dotenv = {key.upper() for key, value in dotenv_file.items() if value}
        env_name = os.environ.get("APP_ENV") or dotenv_file.get("APP_ENV") or "dev"
        self._default_local_urls(frozenset(dotenv))
        if env_name == AppEnv.DEV.value:
            local = LocalSecrets(DEFAULT_LOCAL_SECRETS_PATH)
            generated = local.ensure()
            local.apply_to(os.environ, configured_elsewhere=frozenset(dotenv))
            logger.info(
                "local secrets %s %s (the admin token and admin password are in that file)",
                "generated into" if generated else "read from",
                DEFAULT_LOCAL_SECRETS_PATH,
            )
        settings = BaseServiceSettings()
        asyncio.run(self._migrate(settings, "head"))
        return settings

    @staticmethod
    async def _seed_demo(settings: BaseServiceSettings, seeder: type[DemoSeeder]) -> DemoSeed:
        database = DatabaseManager.from_settings(settings.database)
        try:
            return await seeder(database).seed()
        finally:
            await database.dispose()

    @staticmethod
    async def _migrate(settings: BaseServiceSettings, revision: str) -> None:
        database = DatabaseManager.from_settings(settings.database)
        try:
            await MigrationRunner(database).upgrade(revision)
            logger.info(
                "database migrated",
                extra={"dialect": database.dialect, "revision": revision},
            )
        finally:
            await database.dispose()

    @staticmethod
    def _default_local_urls(configured: frozenset[str]) -> None:
        """Point the services at each other on 127.0.0.1 unless the environment says otherwise."""
        api_port = os.environ.get("API_PORT") or "8000"
        frontend_port = os.environ.get("FRONTEND_PORT") or "8001"
        defaults = {
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
            "API_BASE_URL": f"http://127.0.0.1:{api_port}",
            "FRONTEND_BASE_URL": f"http://127.0.0.1:{frontend_port}",
            "SPOTIFY_REDIRECT_URI": f"http://127.0.0.1:{api_port}/auth/callback",
        }
        for key, value in defaults.items():
            if key not in configured and not os.environ.get(key):
                os.environ[key] = value

    @staticmethod
    def _announce(settings: BaseServiceSettings) -> None:
        from app.settings import AppSettings  # noqa: PLC0415
        from app.setup.steps import spotify_setup_steps  # noqa: PLC0415

        api_settings = AppSettings()  # fails here, before anything starts, on a bad setting
        if not settings.spotify.configured:
            steps = spotify_setup_steps(settings.spotify.spotify_redirect_uri)
            logger.warning(
                "Spotify is not configured: no account can be connected yet. %s",
                " ".join(f"({number}) {step}" for number, step in enumerate(steps, start=1)),
            )
        api = api_settings.public_base_url
        logger.info(
            "starting: api %s · admin UI %s · connect Spotify at %s/auth/login · "
            "Ctrl-C stops everything",
            api,
            api_settings.frontend_base_url,
            api,
        )


def main() -> None:
    """Console-script entry point."""
    sys.exit(SpotifyMcpCli().run())
