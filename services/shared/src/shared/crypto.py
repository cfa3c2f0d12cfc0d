"""Encryption at rest of Spotify access and refresh tokens (Fernet, with key rotation)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from shared.config import BaseServiceSettings

KEYS_SETTING = "TOKEN_ENCRYPTION_KEYS"


class TokenEncryptionError(Exception):
    """Base of every error raised while encrypting or decrypting tokens."""


class MissingEncryptionKeyError(TokenEncryptionError):
    """No encryption key is configured."""


class InvalidEncryptionKeyError(TokenEncryptionError, ValueError):
    """A configured key is not a Fernet key; the message names its position, never its value."""

    def __init__(self, position: int, count: int) -> None:
        super().__init__(
            f"key {position} of {count} in {KEYS_SETTING} is not a valid Fernet key "
            "(expected 32 url-safe base64-encoded bytes; create one with "
            "`python -c 'from shared.crypto import TokenEncryptor; "
            "print(TokenEncryptor.generate_key())'`)"
        )
        self.position = position


class TokenDecryptionError(TokenEncryptionError):
    """No configured key decrypts the token: it was encrypted under a key no longer listed."""

    def __init__(self) -> None:
        # The ciphertext and the keys stay out of the message: it ends up in logs.
        super().__init__(
            f"the token cannot be decrypted with any key in {KEYS_SETTING}; "
            "was the key it was encrypted with removed?"
        )


def parse_keys(keys: str) -> list[str]:
    """Split a comma-separated key list, ignoring blanks (a trailing comma is harmless)."""
    return [key.strip() for key in keys.split(",") if key.strip()]


class TokenEncryptor:
    """Encrypts tokens under the first key and decrypts under any, so keys can be rotated.

    To rotate: put the new key first (`NEW,OLD`), run `spotify-mcp rotate-keys` to
    re-encrypt the stored tokens, then drop the old key.
    """

    def __init__(self, keys: Sequence[str | SecretStr]) -> None:
        plain = [key.get_secret_value() if isinstance(key, SecretStr) else key for key in keys]
        if not plain:
            raise MissingEncryptionKeyError(
                f"{KEYS_SETTING} is empty: set it to one or more comma-separated Fernet keys"
            )
        fernets: list[Fernet] = []
        for position, key in enumerate(plain, start=1):
            try:
                fernets.append(Fernet(key.strip()))
            except (ValueError, TypeError):
                # `from None`: the underlying error may quote the bad key.
                raise InvalidEncryptionKeyError(position, len(plain)) from None
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)
        self._key_count = len(fernets)

    @classmethod
    def from_key_string(cls, keys: str | SecretStr) -> TokenEncryptor:
        """Build from a comma-separated key list; the first key encrypts."""
        value = keys.get_secret_value() if isinstance(keys, SecretStr) else keys
        parsed = parse_keys(value)
        if not parsed:
            raise MissingEncryptionKeyError(
                f"{KEYS_SETTING} is empty: set it to one or more comma-separated Fernet keys"
            )
        return cls(parsed)

    @classmethod
    def from_settings(cls, settings: BaseServiceSettings) -> TokenEncryptor:
        """Build from a service's settings; a missing key is a start-up error."""
        if settings.token_encryption_keys is None:
            raise MissingEncryptionKeyError(
                f"{KEYS_SETTING} is not set: it is required to store Spotify tokens "
                "(generate a key with TokenEncryptor.generate_key())"
            )
        return cls.from_key_string(settings.token_encryption_keys)

    @staticmethod
    def generate_key() -> str:
        """A new random Fernet key, as text ready for TOKEN_ENCRYPTION_KEYS."""
        return Fernet.generate_key().decode("ascii")

    @property
    def key_count(self) -> int:
        """How many keys can decrypt (the first of them encrypts)."""
        return self._key_count

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a token under the primary key."""
        return self._primary.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a token encrypted under any configured key."""
        try:
            return self._all.decrypt(ciphertext.encode("utf-8")).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise TokenDecryptionError from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt a token under the primary key (whatever key it was encrypted with)."""
        try:
            return self._all.rotate(ciphertext.encode("utf-8")).decode("ascii")
        except InvalidToken:
            raise TokenDecryptionError from None

    def needs_rotation(self, ciphertext: str) -> bool:
        """True when the token decrypts, but not under the primary key."""
        try:
            self._primary.decrypt(ciphertext.encode("utf-8"))
        except InvalidToken:
            pass
        else:
            return False
        try:
            self._all.decrypt(ciphertext.encode("utf-8"))
        except InvalidToken:
            raise TokenDecryptionError from None
        return True
