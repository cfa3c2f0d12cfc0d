"""Tokens are encrypted at rest, survive key rotation and fail clearly under wrong keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.config import AppEnv, BaseServiceSettings
from shared.crypto import (
    InvalidEncryptionKeyError,
    MissingEncryptionKeyError,
    TokenDecryptionError,
    TokenEncryptor,
)
from shared.db.models import SpotifyToken
from testkit.factories import create_user

ACCESS_TOKEN = "BQDaccess-token-plaintext-0123456789abcdefghijklmnopqrstuvwxyz"
REFRESH_TOKEN = "AQDrefresh-token-plaintext-9876543210ZYXWVUTSRQPONMLKJIHGFEDCBA"


class TestRoundTrip:
    def test_decrypt_returns_what_was_encrypted(self) -> None:
        encryptor = TokenEncryptor.from_key_string(TokenEncryptor.generate_key())

        ciphertext = encryptor.encrypt(REFRESH_TOKEN)

        assert ciphertext != REFRESH_TOKEN
        assert REFRESH_TOKEN not in ciphertext
        assert encryptor.decrypt(ciphertext) == REFRESH_TOKEN

    def test_non_ascii_text_round_trips(self) -> None:
        encryptor = TokenEncryptor.from_key_string(TokenEncryptor.generate_key())

        assert encryptor.decrypt(encryptor.encrypt("tøkén ✓")) == "tøkén ✓"

    def test_same_token_encrypts_differently_each_time(self) -> None:
        encryptor = TokenEncryptor.from_key_string(TokenEncryptor.generate_key())

        assert encryptor.encrypt(ACCESS_TOKEN) != encryptor.encrypt(ACCESS_TOKEN)


class TestKeyRotation:
    def test_token_from_old_key_decrypts_after_new_key_is_put_first(self) -> None:
        key_a, key_b = TokenEncryptor.generate_key(), TokenEncryptor.generate_key()
        ciphertext = TokenEncryptor.from_key_string(key_a).encrypt(REFRESH_TOKEN)

        rotated_config = TokenEncryptor.from_key_string(f"{key_b},{key_a}")

        assert rotated_config.decrypt(ciphertext) == REFRESH_TOKEN
        assert rotated_config.needs_rotation(ciphertext)

    def test_rotate_moves_token_to_the_primary_key(self) -> None:
        key_a, key_b = TokenEncryptor.generate_key(), TokenEncryptor.generate_key()
        ciphertext = TokenEncryptor.from_key_string(key_a).encrypt(REFRESH_TOKEN)

        rotated = TokenEncryptor.from_key_string(f"{key_b},{key_a}").rotate(ciphertext)

        assert TokenEncryptor.from_key_string(key_b).decrypt(rotated) == REFRESH_TOKEN
        with pytest.raises(TokenDecryptionError):
            TokenEncryptor.from_key_string(key_a).decrypt(rotated)
        assert not TokenEncryptor.from_key_string(f"{key_b},{key_a}").needs_rotation(rotated)

    def test_blank_entries_and_spaces_in_the_key_list_are_ignored(self) -> None:
        key_a, key_b = TokenEncryptor.generate_key(), TokenEncryptor.generate_key()

        encryptor = TokenEncryptor.from_key_string(f" {key_a} , {key_b},")

        assert encryptor.key_count == 2
        assert TokenEncryptor.from_key_string(key_a).decrypt(encryptor.encrypt("x")) == "x"


class TestErrors:
    def test_wrong_key_raises_token_decryption_error(self) -> None:
        right, wrong = TokenEncryptor.generate_key(), TokenEncryptor.generate_key()
        ciphertext = TokenEncryptor.from_key_string(right).encrypt(REFRESH_TOKEN)

        with pytest.raises(TokenDecryptionError) as caught:
            TokenEncryptor.from_key_string(wrong).decrypt(ciphertext)

        message = str(caught.value)
        assert ciphertext not in message
        assert right not in message
        assert wrong not in message
        assert caught.value.__cause__ is None

    def test_wrong_key_fails_rotate_and_needs_rotation_too(self) -> None:
        ciphertext = TokenEncryptor.from_key_string(TokenEncryptor.generate_key()).encrypt("t")
        other = TokenEncryptor.from_key_string(TokenEncryptor.generate_key())

        with pytest.raises(TokenDecryptionError):
            other.rotate(ciphertext)
        with pytest.raises(TokenDecryptionError):
            other.needs_rotation(ciphertext)

    def test_garbage_ciphertext_raises_token_decryption_error(self) -> None:
        encryptor = TokenEncryptor.from_key_string(TokenEncryptor.generate_key())

        with pytest.raises(TokenDecryptionError):
            encryptor.decrypt("not a fernet token")

    def test_invalid_key_names_its_position_without_printing_it(self) -> None:
        good = TokenEncryptor.generate_key()
        bad = "this-is-not-a-fernet-key"

        with pytest.raises(InvalidEncryptionKeyError) as caught:
            TokenEncryptor.from_key_string(f"{good},{bad}")

        assert caught.value.position == 2
        assert "key 2 of 2" in str(caught.value)
        assert bad not in str(caught.value)
        assert good not in str(caught.value)

    @pytest.mark.parametrize("keys", ["", " , ", ","])
    def test_empty_key_list_is_refused(self, keys: str) -> None:
        with pytest.raises(MissingEncryptionKeyError):
            TokenEncryptor.from_key_string(keys)


class TestFromSettings:
    def test_builds_from_configured_keys(self) -> None:
        key = TokenEncryptor.generate_key()
        settings = BaseServiceSettings(app_env=AppEnv.DEV, token_encryption_keys=SecretStr(key))

        encryptor = TokenEncryptor.from_settings(settings)

        assert TokenEncryptor.from_key_string(key).decrypt(encryptor.encrypt("t")) == "t"

    def test_missing_key_is_a_clear_error(self) -> None:
        settings = BaseServiceSettings(app_env=AppEnv.DEV, token_encryption_keys=None)

        with pytest.raises(MissingEncryptionKeyError, match="TOKEN_ENCRYPTION_KEYS"):
            TokenEncryptor.from_settings(settings)


class TestStoredTokens:
    async def test_stored_row_holds_no_plaintext_token(self, db_session: AsyncSession) -> None:
        encryptor = TokenEncryptor.from_key_string(TokenEncryptor.generate_key())
        user = await create_user(db_session)
        db_session.add(
            SpotifyToken(
                user_id=user.id,
                access_token_encrypted=encryptor.encrypt(ACCESS_TOKEN),
                refresh_token_encrypted=encryptor.encrypt(REFRESH_TOKEN),
                scope="user-read-recently-played",
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
        await db_session.flush()

        result = await db_session.execute(
            text("SELECT * FROM spotify_tokens WHERE user_id = :user_id"), {"user_id": user.id}
        )
        row = result.mappings().one()

        raw_values = " ".join(str(value) for value in row.values())
        assert ACCESS_TOKEN not in raw_values
        assert REFRESH_TOKEN not in raw_values
        assert encryptor.decrypt(row["access_token_encrypted"]) == ACCESS_TOKEN
        assert encryptor.decrypt(row["refresh_token_encrypted"]) == REFRESH_TOKEN
