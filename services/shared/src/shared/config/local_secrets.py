"""Secrets for a local run, generated once into a git-ignored file: no hard-coded defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, MutableMapping
from pathlib import Path

from cryptography.fernet import Fernet

DEFAULT_LOCAL_SECRETS_PATH = Path("data") / "secrets.env"

_GENERATORS: dict[str, Callable[[], str]] = {
    "TOKEN_ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
    "ADMIN_TOKEN": lambda: secrets.token_urlsafe(32),
    "ADMIN_PASSWORD": lambda: secrets.token_urlsafe(12),
    "SECRET_KEY": lambda: secrets.token_urlsafe(48),
}


class LocalSecrets:
    """A dotenv-style file of generated secrets, readable only by its owner."""

    def __init__(self, path: Path = DEFAULT_LOCAL_SECRETS_PATH) -> None:
        self.path = path

    def load(self) -> dict[str, str]:
        """The secrets in the file (empty when it does not exist)."""
        if not self.path.exists():
            return {}
        values: dict[str, str] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or "=" not in stripped:
                continue
            key, _, value = stripped.partition("=")
            values[key.strip()] = value.strip()
        return values

    def ensure(self) -> list[str]:
        """Generate whichever secrets are missing; returns the names generated."""
        existing = self.load()
        missing = [name for name in _GENERATORS if not existing.get(name)]
        if not missing:
            return []
        existing.update({name: _GENERATORS[name]() for name in missing})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Generated for a local run by spotify-mcp; keep this file private.",
            "# Deleting it makes stored Spotify tokens unreadable (users must log in again).",
            *(f"{key}={value}" for key, value in existing.items()),
        ]
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        return missing

    def apply_to(
        self,
        environ: MutableMapping[str, str],
        *,
        configured_elsewhere: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Put the file's secrets into `environ` where nothing set them; returns those names.

        `configured_elsewhere` names settings a `.env` file sets: those win over generated ones.
        """
        applied = []
        for key, value in self.load().items():
            if not environ.get(key) and key not in configured_elsewhere:
                environ[key] = value
                applied.append(key)
        return applied
