"""The credential key: EC2 secrets are encrypted at rest with keys kept outside the database.

Keystone encrypts its credentials with Fernet keys from a key repository on the identity host; here the
keys live in ``data_dir/credential-keys.json`` (created 0600, next to ``token-keys.json``, in the same
format and rotated the same way). A row names the key that encrypted it, so a rotation can make a new
primary key, re-encrypt every row with it (``CredentialAPI.rotate_credential_key``), and drop the
oldest key, which by then no row uses.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from overcast.config import Settings
from overcast.errors import OvercastError
from overcast.identity.tokens import KeyRepository, SigningKey

KEY_FILE_NAME = "credential-keys.json"


class CredentialKeyMissing(OvercastError):
    """A stored secret names a key the key file no longer has (or the file was replaced)."""

    status = 500
    title = "identityFault"
    default_message = "A stored credential cannot be decrypted with the credential keys."


def _fernet(key: SigningKey) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key.secret))


class CredentialCipher:
    def __init__(self, repository: KeyRepository) -> None:
        self.repository = repository

    @classmethod
    def for_settings(cls, settings: Settings, max_active_keys: int = 3) -> CredentialCipher:
        return cls.at(settings.data_dir / KEY_FILE_NAME, max_active_keys)

    @classmethod
    def at(cls, path: Path, max_active_keys: int = 3) -> CredentialCipher:
        return cls(KeyRepository(path, max_active_keys))

    def encrypt(self, plaintext: str) -> tuple[str, str]:
        """(key id, ciphertext) under the primary key."""
        primary = self.repository.load()[0]
        return primary.key_id, _fernet(primary).encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, key_id: str, ciphertext: str) -> str:
        for key in self.repository.load():
            if key.key_id == key_id:
                try:
                    return _fernet(key).decrypt(ciphertext.encode("ascii")).decode()
                except InvalidToken as exc:
                    raise CredentialKeyMissing() from exc
        raise CredentialKeyMissing()

    def rotate(self) -> str:
        """Make a new primary key (the oldest beyond max_active_keys is dropped); returns its id."""
        return self.repository.rotate().key_id
