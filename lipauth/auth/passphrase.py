"""Enrolled passphrases, kept only as salted scrypt hashes (hashlib's, OpenSSL underneath) and
compared in constant time. A passphrase is a second factor the person types; what they say
on camera is the spoken-phrase check's job (lipauth.pad.spoken_phrase_check), not this."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from lipauth.errors import InvalidInputError

# scrypt cost: ~15 ms on one core here, 16 MiB of memory (OWASP's floor is N=2**17 with r=8 at
# 128 MiB; this stays under a service worker's budget while costing a guesser the memory)
N, R, P = 2**14, 8, 1
PREFIX = "scrypt"


def hash_passphrase(passphrase: str) -> str:
    """The stored form: "scrypt$N$r$p$salt$hash" (base64)."""
    if not isinstance(passphrase, str) or not passphrase:
        raise InvalidInputError("a passphrase must be a non-empty string")
    salt = os.urandom(16)
    digest = hashlib.scrypt(passphrase.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return "$".join([PREFIX, str(N), str(R), str(P), _b64(salt), _b64(digest)])


def is_hashed(stored: str) -> bool:
    return stored.startswith(PREFIX + "$") and stored.count("$") == 5


def passphrase_matches(given: str, stored: str) -> bool:
    """Whether `given` is the passphrase `stored` was made from, in time that does not depend
    on where they differ."""
    _, n, r, p, salt, digest = stored.split("$")
    want = base64.b64decode(digest)
    got = hashlib.scrypt(given.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(want))
    return hmac.compare_digest(got, want)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()
