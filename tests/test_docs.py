"""README, docs/ and .env.example name every setting, command and file, and nothing that is not."""

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
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GUIDES = [
    "deployment.md",
    "chatgpt-integration.md",
    "claude-integration.md",
    "troubleshooting.md",
    "manual-test.md",
    "roadmap.md",
]
# Environment variables that no settings class reads, and the file that does read each.
OTHER_READERS = {
    "FAKE_SPOTIFY_PORT": ("src/spotify_mcp/cli.py", 'os.environ.get("FAKE_SPOTIFY_PORT"'),
    "POSTGRES_PASSWORD": ("docker-compose.yml", "${POSTGRES_PASSWORD"),
}
# Named in the guides, read by tools around the service rather than by the service.
NOT_SETTINGS = {
    "UPSTREAM_API": ("deploy/Caddyfile", "{$UPSTREAM_API"),
    "UPSTREAM_FRONTEND": ("deploy/Caddyfile", "{$UPSTREAM_FRONTEND"),
    "TEST_POSTGRES_URL": ("services/testkit/src/testkit/databases.py", "TEST_POSTGRES_URL"),
}


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
    return names | set(OTHER_READERS)


def _env_example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def _readme_table_variables() -> set[str]:
    text = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.MULTILINE))


def _code(document: Path) -> str:
    """The document's code: fenced blocks and inline code spans, where commands are named."""
    text = document.read_text()
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return "\n".join([*fenced, *re.findall(r"`([^`\n]+)`", prose)])


def _cli_subcommands() -> set[str]:
    parser = SpotifyMcpCli().parser
    return set(
        next(
            action.choices
            for action in parser._actions  # argparse keeps the subcommands here
            if action.choices is not None
        )
    )


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(document: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", document.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {_github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def _relative_links(document: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", document.read_text(), flags=re.MULTILINE | re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [link for link in links if not re.match(r"^[a-z]+:", link)]


def _document_id(document: Path) -> str:
    return str(document.relative_to(ROOT))


class TestConfigurationReference:
    def test_env_example_lists_every_setting_and_nothing_stale(self) -> None:
        assert _env_example_variables() == _settings_variables()

    def test_readme_table_lists_every_setting_and_nothing_stale(self) -> None:
        assert _readme_table_variables() == _settings_variables()

    @pytest.mark.parametrize("name", sorted(OTHER_READERS | NOT_SETTINGS))
    def test_variables_outside_the_settings_classes_are_read_where_claimed(self, name: str) -> None:
        path, reading = (OTHER_READERS | NOT_SETTINGS)[name]
        assert reading in (ROOT / path).read_text()

    @pytest.mark.parametrize("document", DOCUMENTS, ids=_document_id)
    def test_every_variable_a_document_sets_is_a_setting(self, document: Path) -> None:
        assigned = set(
            re.findall(r"^\s*(?:export )?([A-Z][A-Z0-9]*_[A-Z0-9_]+)=", _code(document), re.M)
        )
        named = set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`", document.read_text()))
        unknown = (assigned | named) - _settings_variables() - set(NOT_SETTINGS)
        assert not unknown


class TestCommandsNamed:
    @pytest.mark.parametrize("document", DOCUMENTS, ids=_document_id)
    def test_every_spotify_mcp_subcommand_named_exists(self, document: Path) -> None:
        named = set(re.findall(r"spotify-mcp ([a-z][a-z-]+)", _code(document)))
        assert named <= _cli_subcommands()

    @pytest.mark.parametrize("document", DOCUMENTS, ids=_document_id)
    def test_every_make_target_named_exists(self, document: Path) -> None:
        named = set(re.findall(r"(?:^|[\s;&|(])make ([a-z][a-z-]*)", _code(document), re.M))
        makefile = (ROOT / "Makefile").read_text()
        targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
        assert named <= targets

    @pytest.mark.parametrize("target", ["run", "demo", "test"])
    def test_readme_names_the_main_make_targets(self, target: str) -> None:
        assert f"make {target}" in (ROOT / "README.md").read_text()


class TestLinks:
    @pytest.mark.parametrize("guide", GUIDES)
    def test_readme_links_every_guide(self, guide: str) -> None:
        assert f"](docs/{guide})" in (ROOT / "README.md").read_text()

    @pytest.mark.parametrize("document", DOCUMENTS, ids=_document_id)
    def test_every_relative_link_points_to_an_existing_file_and_heading(
        self, document: Path
    ) -> None:
        for link in _relative_links(document):
            path, _, anchor = link.partition("#")
            target = (document.parent / path).resolve() if path else document
            assert target.exists(), link
            if anchor and target.suffix == ".md":
                assert anchor in _anchors(target), link
