"""The `spotify-mcp` command line: help, migrate and tool tokens."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.auth.tool_tokens import PREFIX_LENGTH, TOKEN_MARK, ToolTokenVerifier
from shared.db.enums import TokenScope
from shared.db.manager import DatabaseManager
from shared.db.models import ApiToken, User
from spotify_mcp.cli import SpotifyMcpCli
from testkit.factories import create_user
from testkit.plugin import FreshDatabase


class TestHelp:
    def test_help_lists_the_subcommands(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            SpotifyMcpCli().run(["--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        for command in ("serve", "demo", "migrate", "tokens", "api", "frontend", "collector"):
            assert command in out

    def test_console_script_is_installed(self) -> None:
        script = Path(sys.executable).parent / "spotify-mcp"
        result = subprocess.run(  # noqa: S603
            [str(script), "--help"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0
        assert "serve" in result.stdout


class TestMigrate:
    def test_migrate_creates_the_schema(self, tmp_path: Path) -> None:
        database = tmp_path / "cli.db"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
        result = subprocess.run(
            [sys.executable, "-m", "spotify_mcp", "migrate"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "database migrated" in result.stderr
        import sqlite3  # noqa: PLC0415

        with sqlite3.connect(database) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"users", "plays", "alembic_version"} <= tables


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The command configures the root logger; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def token_database(
    fresh_database: FreshDatabase, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> DatabaseManager:
    """A migrated database with the users alice and bob, named by DATABASE_URL."""
    database = await fresh_database()
    async with database.session() as session:
        await create_user(session, spotify_user_id="alice")
        await create_user(session, spotify_user_id="bob")
    monkeypatch.setenv("DATABASE_URL", database.url.render_as_string(hide_password=False))
    return database


async def _tokens(*argv: str) -> int:
    # In a thread: the command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(SpotifyMcpCli().run, ["tokens", *argv])


def _printed_token(out: str) -> str:
    tokens = [line for line in out.splitlines() if line.startswith(TOKEN_MARK)]
    assert len(tokens) == 1, out
    return tokens[0]


async def _stored(database: DatabaseManager) -> list[str]:
    async with database.session() as session:
        rows = await session.execute(text("SELECT * FROM api_tokens"))
        return [str(value) for row in rows for value in row]


async def _verify(database: DatabaseManager, token: str) -> ApiToken | None:
    async with database.session() as session:
        return await ToolTokenVerifier().verify(session, token)


class TestTokensCreate:
    async def test_prints_a_user_token_once_saying_it_will_not_be_shown_again(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _tokens("create", "--user", "alice", "--name", "laptop") == 0

        out, err = capsys.readouterr()
        token = _printed_token(out)
        assert out.count(token) == 1
        assert token not in err
        assert "will not be shown again" in out
        row = await _verify(token_database, token)
        assert row is not None
        assert (row.scope, row.name) == (TokenScope.USER, "laptop")
        async with token_database.session() as session:
            owner = await session.scalar(select(User.spotify_user_id).where(User.id == row.user_id))
        assert owner == "alice"
        assert not any(token in value for value in await _stored(token_database))

    async def test_a_user_token_without_a_name_is_named_after_its_user(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _tokens("create", "--user", "bob") == 0

        row = await _verify(token_database, _printed_token(capsys.readouterr().out))
        assert row is not None
        assert "bob" in row.name

    async def test_an_admin_token_sees_every_user(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _tokens("create", "--admin", "--name", "household assistant") == 0

        row = await _verify(token_database, _printed_token(capsys.readouterr().out))
        assert row is not None
        assert (row.scope, row.user_id, row.name) == (
            TokenScope.ADMIN,
            None,
            "household assistant",
        )

    async def test_an_unknown_user_fails_and_stores_nothing(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _tokens("create", "--user", "carol") == 1

        out, err = capsys.readouterr()
        assert "carol" in err
        assert TOKEN_MARK not in out
        assert await _stored(token_database) == []

    async def test_a_blank_name_fails_and_stores_nothing(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _tokens("create", "--user", "alice", "--name", " \t ") == 2

        assert TOKEN_MARK not in capsys.readouterr().out
        assert await _stored(token_database) == []

    @pytest.mark.parametrize(
        "argv",
        [
            ["create", "--admin"],
            ["create", "--admin", "--name", "  "],
            ["create", "--name", "x"],
            ["create", "--user", "alice", "--admin", "--name", "x"],
        ],
    )
    def test_an_admin_token_needs_a_name_and_one_owner_must_be_chosen(
        self, argv: list[str], capsys: pytest.CaptureFixture[str], restore_logging: None
    ) -> None:
        with pytest.raises(SystemExit) as exit_info:
            SpotifyMcpCli().run(["tokens", *argv])

        assert exit_info.value.code == 2
        assert "usage:" in capsys.readouterr().err


class TestTokensList:
    async def test_lists_every_token_with_its_prefix_but_never_the_token(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await _tokens("create", "--user", "alice", "--name", "laptop")
        await _tokens("create", "--admin", "--name", "household")
        tokens = [
            line for line in capsys.readouterr().out.splitlines() if line.startswith(TOKEN_MARK)
        ]

        assert await _tokens("list") == 0

        out = capsys.readouterr().out
        lines = out.splitlines()
        assert lines[0].split()[:3] == ["ID", "SCOPE", "USER"]
        assert [line.split()[1:3] for line in lines[1:]] == [
            ["user", "alice"],
            ["admin", "(every"],
        ]
        for token in tokens:
            assert token[:PREFIX_LENGTH] in out
            assert token not in out
            assert token[PREFIX_LENGTH:] not in out
            assert ToolTokenVerifier.hash(token) not in out

    async def test_with_a_user_lists_only_that_users_tokens(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await _tokens("create", "--user", "alice", "--name", "alices laptop")
        await _tokens("create", "--user", "bob", "--name", "bobs phone")
        capsys.readouterr()

        assert await _tokens("list", "--user", "bob") == 0

        out = capsys.readouterr().out
        assert "bobs phone" in out
        assert "alices laptop" not in out

    async def test_no_tokens_and_unknown_users_are_said_so(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _tokens("list") == 0
        assert capsys.readouterr().out == "No tool tokens.\n"

        assert await _tokens("list", "--user", "carol") == 1
        assert "carol" in capsys.readouterr().err


class TestTokensRevoke:
    async def test_a_revoked_token_stops_working_and_revoking_again_is_fine(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await _tokens("create", "--user", "alice", "--name", "laptop")
        await _tokens("create", "--user", "alice", "--name", "phone")
        revoked, kept = [
            line for line in capsys.readouterr().out.splitlines() if line.startswith(TOKEN_MARK)
        ]
        row = await _verify(token_database, revoked)
        assert row is not None

        assert await _tokens("revoke", str(row.id)) == 0
        assert await _tokens("revoke", str(row.id)) == 0

        assert await _verify(token_database, revoked) is None
        assert await _verify(token_database, kept) is not None
        assert "revoked" in capsys.readouterr().out
        await _tokens("list")
        statuses = [line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]]
        assert statuses == ["revoked", "active"]

    async def test_an_unknown_token_fails(
        self, token_database: DatabaseManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _tokens("revoke", "4242") == 1
        assert "4242" in capsys.readouterr().err

    @pytest.mark.parametrize("token_id", ["0", "-1", str(2**31), "abc"])
    def test_an_impossible_token_id_is_a_usage_error(
        self, token_id: str, restore_logging: None
    ) -> None:
        with pytest.raises(SystemExit) as exit_info:
            SpotifyMcpCli().run(["tokens", "revoke", token_id])
        assert exit_info.value.code == 2


class TestTokensFromTheShell:
    async def test_the_token_is_on_stdout_once_and_never_in_the_debug_log(
        self, token_database: DatabaseManager, tmp_path: Path
    ) -> None:
        env = {
            **os.environ,
            "LOG_LEVEL": "DEBUG",
            "DATABASE_URL": token_database.url.render_as_string(hide_password=False),
        }
        script = Path(sys.executable).parent / "spotify-mcp"

        result = await asyncio.to_thread(
            subprocess.run,
            [str(script), "tokens", "create", "--user", "alice", "--name", "laptop"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

        assert result.returncode == 0, result.stderr
        token = _printed_token(result.stdout)
        assert result.stdout.count(token) == 1
        assert "tool token created" in result.stderr
        assert token not in result.stderr
        assert token[PREFIX_LENGTH:] not in result.stderr
