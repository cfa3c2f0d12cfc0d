"""Local secrets are generated once, kept private, and never override configured ones."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography.fernet import Fernet

from shared.config.local_secrets import LocalSecrets


class TestLocalSecrets:
    def test_generates_each_secret_once(self, tmp_path: Path) -> None:
        secrets_file = LocalSecrets(tmp_path / "data" / "secrets.env")
        generated = secrets_file.ensure()
        assert set(generated) == {
            "TOKEN_ENCRYPTION_KEYS",
            "ADMIN_TOKEN",
            "ADMIN_PASSWORD",
            "SECRET_KEY",
        }
        first = secrets_file.load()
        assert secrets_file.ensure() == []
        assert secrets_file.load() == first

    def test_file_is_readable_only_by_its_owner(self, tmp_path: Path) -> None:
        secrets_file = LocalSecrets(tmp_path / "secrets.env")
        secrets_file.ensure()
        assert stat.S_IMODE(secrets_file.path.stat().st_mode) == 0o600

    def test_encryption_key_is_a_valid_fernet_key(self, tmp_path: Path) -> None:
        secrets_file = LocalSecrets(tmp_path / "secrets.env")
        secrets_file.ensure()
        Fernet(secrets_file.load()["TOKEN_ENCRYPTION_KEYS"].encode())

    def test_two_installations_get_different_secrets(self, tmp_path: Path) -> None:
        one, two = LocalSecrets(tmp_path / "a.env"), LocalSecrets(tmp_path / "b.env")
        one.ensure()
        two.ensure()
        assert one.load()["ADMIN_TOKEN"] != two.load()["ADMIN_TOKEN"]

    def test_configured_values_win_over_generated_ones(self, tmp_path: Path) -> None:
        secrets_file = LocalSecrets(tmp_path / "secrets.env")
        secrets_file.ensure()
        environ = {"ADMIN_TOKEN": "from-the-environment"}
        applied = secrets_file.apply_to(environ, configured_elsewhere=frozenset({"SECRET_KEY"}))
        assert environ["ADMIN_TOKEN"] == "from-the-environment"
        assert "SECRET_KEY" not in environ
        assert set(applied) == {"TOKEN_ENCRYPTION_KEYS", "ADMIN_PASSWORD"}

    def test_fills_in_a_secret_missing_from_an_older_file(self, tmp_path: Path) -> None:
        path = tmp_path / "secrets.env"
        path.write_text("ADMIN_TOKEN=kept\n")
        secrets_file = LocalSecrets(path)
        assert "ADMIN_TOKEN" not in secrets_file.ensure()
        assert secrets_file.load()["ADMIN_TOKEN"] == "kept"
