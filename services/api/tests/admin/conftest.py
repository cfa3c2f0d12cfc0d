"""Admin API fixtures: the app with a temporary import folder and a 1 MB upload limit."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.settings import AppSettings

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}
MAX_ZIP_MB = 1


@pytest.fixture
def import_dir(tmp_path: Path) -> Path:
    """Where the app stores uploaded archives in this test."""
    return tmp_path / "imports"


@pytest.fixture
def api_settings(api_settings: AppSettings, import_dir: Path) -> AppSettings:
    """The API's test settings with this test's import folder and a small upload limit."""
    return api_settings.model_copy(
        update={"import_dir": import_dir, "import_max_zip_size_mb": MAX_ZIP_MB}
    )


def make_zip(payload: bytes = b'[{"ts": "2024-01-01T00:00:00Z"}]', name: str = "a.json") -> bytes:
    """A real ZIP archive holding one file, stored uncompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"Spotify Extended Streaming History/{name}", payload)
    return buffer.getvalue()


def files_under(folder: Path) -> list[Path]:
    """Every file below a folder (none when it does not exist)."""
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []
