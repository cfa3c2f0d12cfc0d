"""Settings refuse example secrets outside dev mode and read the environment."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from shared.config import AppEnv, BaseServiceSettings, SpotifySettings
from shared.config.settings import is_placeholder


class TestPlaceholderSecrets:
    @pytest.mark.parametrize("value", ["", "change-me", "CHANGE-ME-please", "changeme", "secret"])
    def test_example_values_count_as_placeholders(self, value: str) -> None:
        assert is_placeholder(SecretStr(value))

    def test_a_missing_secret_is_a_placeholder(self) -> None:
        assert is_placeholder(None)

    def test_a_real_key_is_not_a_placeholder(self) -> None:
        assert not is_placeholder(SecretStr("p2Vx0pJ0y7m3mUq8Qbq7Dk1oVqH1a8bq"))

    def test_production_refuses_a_placeholder_encryption_key(self) -> None:
        with pytest.raises(ValidationError, match="TOKEN_ENCRYPTION_KEYS"):
            BaseServiceSettings(
                app_env=AppEnv.PRODUCTION, token_encryption_keys=SecretStr("change-me")
            )

    def test_dev_mode_accepts_a_missing_key(self) -> None:
        settings = BaseServiceSettings(app_env=AppEnv.DEV, token_encryption_keys=None)
        assert settings.token_encryption_keys is None


class TestEnvironment:
    def test_reads_database_and_spotify_settings_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
        monkeypatch.setenv("SPOTIFY_CLIENT_ID", "abc")
        monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "def-real-secret")
        settings = BaseServiceSettings()
        assert settings.database.database_url == "postgresql+asyncpg://u@h/db"
        assert settings.spotify.configured

    def test_spotify_is_unconfigured_without_a_secret(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
        assert not SpotifySettings(spotify_client_id="abc").configured

    def test_secrets_do_not_show_in_repr(self) -> None:
        settings = SpotifySettings(
            spotify_client_id="abc", spotify_client_secret=SecretStr("s3cr3t")
        )
        assert "s3cr3t" not in repr(settings)


class TestEveryServiceRefusesPlaceholders:
    def test_api_requires_admin_secrets_in_production(self) -> None:
        from app.settings import AppSettings  # noqa: PLC0415

        with pytest.raises(ValidationError) as error:
            AppSettings(
                _env_file=None,
                app_env=AppEnv.PRODUCTION,
                token_encryption_keys=SecretStr("k" * 44),
                admin_token=SecretStr("a-real-admin-token-value"),
                admin_password=SecretStr("password"),
                secret_key=None,
            )
        assert "ADMIN_PASSWORD" in str(error.value)
        assert "SECRET_KEY" in str(error.value)

    def test_frontend_requires_a_real_session_key_in_production(self) -> None:
        from frontend.settings import FrontendSettings  # noqa: PLC0415

        with pytest.raises(ValidationError, match="SECRET_KEY"):
            FrontendSettings(
                _env_file=None, app_env=AppEnv.PRODUCTION, secret_key=SecretStr("change-me")
            )
