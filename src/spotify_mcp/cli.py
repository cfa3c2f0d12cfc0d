"""`spotify-mcp`: run the services, migrate the database, import exports, manage tool tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dotenv import dotenv_values

from shared.config import AppEnv, BaseServiceSettings, DatabaseSettings
from shared.config.local_secrets import DEFAULT_LOCAL_SECRETS_PATH, LocalSecrets
from shared.crypto import TokenEncryptor
from shared.db.manager import DatabaseManager
from shared.db.migrate import MigrationRunner
from shared.logging import configure_logging
from shared.token_rotation import StoredTokenRotator
from spotify_mcp.demo import DemoSeed, DemoSeeder
from spotify_mcp.supervisor import ChildSpec, ProcessSupervisor

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.tool_tokens import ListedToolToken, ToolTokenService

logger = logging.getLogger("spotify_mcp")

_T = TypeVar("_T")

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./data/demo.db"
DEMO_FAKE_SPOTIFY_PORT = 8090
DEMO_FAKE_STATE_FILE = Path("data") / "demo-fake-spotify.json"


def _service(name: str) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-m", "spotify_mcp", name])


class ToolTokenCommands:
    """`spotify-mcp tokens create|list|revoke`: tool tokens in the configured database."""

    _MAX_ID = 2**31 - 1  # row IDs are 32-bit; a bigger one cannot exist

    def add_to(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Register `tokens` and its actions on the top-level subcommands."""
        tokens = commands.add_parser(
            "tokens",
            help="create, list and revoke tool tokens for AI clients",
            description="Tool tokens let an AI client call the tools: a user token sees only "
            "that user's data, an admin token sees every user. Only a token's hash is stored.",
        )
        actions = tokens.add_subparsers(dest="tokens_action", required=True, metavar="ACTION")
        self._create_parser = actions.add_parser(
            "create", help="create a token and print it (this once only)"
        )
        owner = self._create_parser.add_mutually_exclusive_group(required=True)
        owner.add_argument(
            "--user", metavar="SPOTIFY_USER_ID", help="a token that sees only this user's data"
        )
        owner.add_argument(
            "--admin", action="store_true", help="a token that sees every user (needs --name)"
        )
        self._create_parser.add_argument(
            "--name", help="what the token is for, e.g. the client using it"
        )
        listing = actions.add_parser("list", help="list tokens (never the tokens themselves)")
        listing.add_argument("--user", metavar="SPOTIFY_USER_ID", help="only this user's tokens")
        revoke = actions.add_parser("revoke", help="revoke a token: it stops working at once")
        revoke.add_argument("token_id", type=self._token_id, metavar="TOKEN_ID")

    def run(self, args: argparse.Namespace) -> int:
        """Run the chosen action; returns the exit code."""
        from app.auth.tool_tokens import ToolTokenService  # noqa: PLC0415

        configure_logging("cli", os.environ.get("LOG_LEVEL", "WARNING"))
        service = ToolTokenService()
        if args.tokens_action == "create":
            if args.admin and not (args.name or "").strip():
                self._create_parser.error("an admin token needs --name")
            return self._in_database(lambda session: self._create(session, service, args))
        if args.tokens_action == "list":
            return self._in_database(lambda session: self._list(session, service, args.user))
        return self._in_database(lambda session: self._revoke(session, service, args.token_id))

    async def _create(
        self, session: AsyncSession, service: ToolTokenService, args: argparse.Namespace
    ) -> int:
        from app.auth.tool_tokens import InvalidTokenNameError  # noqa: PLC0415

        try:
            if args.admin:
                issued = await service.create_admin_token(session, args.name)
                sees = "every user"
            else:
                user_id = await self._user_id(session, args.user)
                if user_id is None:
                    return 1
                issued = await service.create_user_token(
                    session, user_id, args.name or f"{args.user} (command line)"
                )
                sees = f"only Spotify user {args.user}"
        except InvalidTokenNameError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        row = issued.row
        print(f'Tool token {row.id} "{row.name}" created; it sees {sees}.')
        print(issued.plaintext)
        print(
            "This token will not be shown again: only its hash is stored. "
            "Keep it now, e.g. in your AI client's settings."
        )
        return 0

    async def _list(
        self, session: AsyncSession, service: ToolTokenService, spotify_user_id: str | None
    ) -> int:
        user_id = None
        if spotify_user_id is not None:
            user_id = await self._user_id(session, spotify_user_id)
            if user_id is None:
                return 1
        listed = await service.list_tokens(session, user_id=user_id)
        if not listed:
            print("No tool tokens.")
            return 0
        self._print_table(listed)
        return 0

    @staticmethod
    async def _revoke(session: AsyncSession, service: ToolTokenService, token_id: int) -> int:
        from app.auth.tool_tokens import UnknownToolTokenError  # noqa: PLC0415

        try:
            row = await service.revoke(session, token_id)
        except UnknownToolTokenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        assert row.revoked_at is not None
        print(
            f'Tool token {row.id} "{row.name}" is revoked '
            f"(since {ToolTokenCommands._minute(row.revoked_at)}): it no longer works."
        )
        return 0

    @staticmethod
    async def _user_id(session: AsyncSession, spotify_user_id: str) -> int | None:
        """The user's row ID, or None after saying on stderr that there is no such user."""
        from sqlalchemy import select  # noqa: PLC0415

        from shared.db.models import User  # noqa: PLC0415

        user_id = await session.scalar(
            select(User.id).where(User.spotify_user_id == spotify_user_id)
        )
        if user_id is None:
            print(
                f"error: no user has the Spotify user ID {spotify_user_id!r} "
                "(users appear when they log in with Spotify or an export is imported)",
                file=sys.stderr,
            )
        return user_id

    @staticmethod
    def _print_table(listed: list[ListedToolToken]) -> None:
        minute = ToolTokenCommands._minute
        header = ("ID", "SCOPE", "USER", "NAME", "PREFIX", "CREATED", "LAST USED", "STATUS")
        rows = [
            (
                str(entry.row.id),
                entry.row.scope.value,
                entry.spotify_user_id or "(every user)",
                entry.row.name,
                entry.row.token_prefix + "...",
                minute(entry.row.created_at),
                minute(entry.row.last_used_at) if entry.row.last_used_at else "never",
                "active" if entry.row.revoked_at is None else "revoked",
            )
            for entry in listed
        ]
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(8)]
        for row in [header, *rows]:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            print("  ".join(cells).rstrip())

    @staticmethod
    def _in_database(work: Callable[[AsyncSession], Awaitable[_T]]) -> _T:
        """Run `work` in one transaction on the configured database (DATABASE_URL)."""

        async def _run() -> _T:
            database = DatabaseManager.from_settings(DatabaseSettings())
            try:
                async with database.session(write=True) as session:
                    return await work(session)
            finally:
                await database.dispose()

        return asyncio.run(_run())

    @staticmethod
    def _minute(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC")

    @classmethod
    def _token_id(cls, value: str) -> int:
        try:
            token_id = int(value)
        except ValueError:
            token_id = 0
        if not 1 <= token_id <= cls._MAX_ID:
            raise argparse.ArgumentTypeError(f"not a token ID: {value!r}")
        return token_id


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
        self._tokens = ToolTokenCommands()
        self._tokens.add_to(commands)
        stdio = commands.add_parser(
            "mcp-stdio",
            help="serve the tools over stdin/stdout to a local MCP client (Claude Desktop)",
            description="Serves the AI tools over the Model Context Protocol on stdin/stdout, "
            "reading the database that DATABASE_URL (or .env) names.",
        )
        stdio.add_argument(
            "--user",
            metavar="SPOTIFY_USER_ID",
            help="answer only about this user (default: every user; tools then need user_id)",
        )
        stdio.add_argument(
            "--dir",
            type=Path,
            help="the project folder holding .env and data/ (clients often start commands "
            "elsewhere)",
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
            "tokens": self._tokens.run,
            "mcp-stdio": self.mcp_stdio,
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

    def mcp_stdio(self, args: argparse.Namespace) -> int:
        """Serve the tools to one local client over stdin/stdout (stdout carries only MCP)."""
        from app.mcp.stdio import StdioToolServer  # noqa: PLC0415
        from app.settings import AppSettings  # noqa: PLC0415

        if args.dir is not None:
            os.chdir(args.dir)
        configure_logging("mcp-stdio", os.environ.get("LOG_LEVEL", "WARNING"))
        dotenv_file = dotenv_values(".env") if Path(".env").exists() else {}
        env_name = os.environ.get("APP_ENV") or dotenv_file.get("APP_ENV") or "dev"
        if env_name == AppEnv.DEV.value and DEFAULT_LOCAL_SECRETS_PATH.exists():
            # The keys `make run` generated decrypt the stored Spotify logins.
            configured = frozenset(key.upper() for key, value in dotenv_file.items() if value)
            LocalSecrets(DEFAULT_LOCAL_SECRETS_PATH).apply_to(
                os.environ, configured_elsewhere=configured
            )
        return asyncio.run(StdioToolServer(AppSettings()).serve(args.user))

    # -- single services ------------------------------------------------------------------

    def api(self, _args: argparse.Namespace) -> int:
        """Run only the API (uvicorn)."""
        from app.settings import AppSettings  # noqa: PLC0415

        settings = AppSettings()
        self._run_asgi(
            "app.main:create_app", settings.api_host, settings.api_port, settings.api_workers
        )
        return 0

    def frontend(self, _args: argparse.Namespace) -> int:
        """Run only the admin frontend (uvicorn)."""
        from frontend.settings import FrontendSettings  # noqa: PLC0415

        settings = FrontendSettings()
        self._run_asgi("frontend.main:create_app", settings.frontend_host, settings.frontend_port)
        return 0

    @staticmethod
    def _run_asgi(factory: str, host: str, port: int, workers: int = 1) -> None:
        import uvicorn  # noqa: PLC0415

        # log_config=None: the app factory installs the JSON logging, uvicorn's lines included.
        # proxy_headers=False: X-Forwarded-* is judged by the app against TRUSTED_PROXIES
        # alone, not also by uvicorn's own (different) list.
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            proxy_headers=False,
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
