"""README and .env.example name every setting, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from app.settings import AppSettings
from collector.settings import CollectorSettings
from frontend.settings import FrontendSettings
from spotify_mcp.cli import SpotifyMcpCli

ROOT = Path(__file__).resolve().parents[1]
# Read by the command line itself rather than by a settings class.
COMMAND_LINE_VARIABLES = {"FAKE_SPOTIFY_PORT"}


def _settings_variables() -> set[str]:
    names: set[str] = set()
    pending: list[type[BaseSettings]] = [AppSettings, CollectorSettings, FrontendSettings]
    while pending:
        settings_class = pending.pop()
        for name, field in settings_class.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
                pending.append(annotation)
            else:
                names.add(name.upper())
    return names | COMMAND_LINE_VARIABLES


def _env_example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def _readme_table_variables() -> set[str]:
    text = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.MULTILINE))


class TestConfigurationReference:
    def test_env_example_lists_every_setting_and_nothing_stale(self) -> None:
        assert _env_example_variables() == _settings_variables()

    def test_readme_table_lists_every_setting_and_nothing_stale(self) -> None:
        assert _readme_table_variables() == _settings_variables()


class TestCommandsNamedInReadme:
    def test_every_spotify_mcp_subcommand_in_readme_exists(self) -> None:
        readme = (ROOT / "README.md").read_text()
        named = set(re.findall(r"spotify-mcp ([a-z][a-z-]+)", readme))
        parser = SpotifyMcpCli().parser
        choices = next(
            action.choices
            for action in parser._actions  # argparse keeps the subcommands here
            if action.choices is not None
        )
        assert named
        assert named <= set(choices)

    @pytest.mark.parametrize("target", ["run", "demo", "test"])
    def test_make_targets_in_readme_exist(self, target: str) -> None:
        assert f"make {target}" in (ROOT / "README.md").read_text()
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.MULTILINE)
