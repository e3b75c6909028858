"""Encryption of templates at rest (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`).

The key comes from $LIPAUTH_STORE_KEY, or from a key file that is created with the store,
with owner-only permissions (0600). Keys are never logged or printed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from lipauth.errors import StoreError, StoreKeyError

KEY_ENV = "LIPAUTH_STORE_KEY"


def load_key(key_file: Path) -> bytes:
    """The key from $LIPAUTH_STORE_KEY, else from the key file (which must exist)."""
    env = os.environ.get(KEY_ENV)
    if env:
        key = env.strip().encode()
        _check(key, f"${KEY_ENV}")
        return key
    key = key_file.read_bytes().strip()
    _check(key, str(key_file))
    return key


def create_key(key_file: Path) -> bytes:
    """A new key, written to `key_file` (which must not exist) readable by its owner only."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _check(key: bytes, where: str) -> None:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise StoreError(f"{where} does not hold a valid store key (44 url-safe base64 characters, e.g. from `lipauth keygen`)") from None


class Cipher:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._digest_key = hashlib.sha256(b"lipauth user digest\0" + key).digest()

    def digest(self, text: str) -> str:
        """A keyed digest of `text` (HMAC-SHA256, 32 hex digits): who holds the store key can
        tell which user it stands for; the database alone cannot."""
        return hmac.new(self._digest_key, text.encode(), hashlib.sha256).hexdigest()[:32]

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise StoreKeyError("the template store was encrypted with another key (check LIPAUTH_STORE_KEY or the key file)") from None

    def __repr__(self) -> str:  # never show the key
        return "Cipher(<hidden>)"
