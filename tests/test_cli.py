"""The `spotify-mcp` command line: help and migrate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spotify_mcp.cli import SpotifyMcpCli


class TestHelp:
    def test_help_lists_the_subcommands(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            SpotifyMcpCli().run(["--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        for command in ("serve", "demo", "migrate", "api", "frontend", "collector"):
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
