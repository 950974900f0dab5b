"""Keyed hashing of customer ids, so logs and the audit log never carry them in clear. Pure.

HMAC-SHA256 with a secret key: without the key nobody can test a guessed id against the hash
(a plain hash of a card number would be reversed by trying all card numbers).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_BYTES = 32
_DERIVE_CONTEXT = b"touchgate.derived-secret/"
PSEUDONYM_HEX_CHARS = 32  # 128 bits: collisions are out of reach for any shop's customer count


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def pseudonymise(key: bytes, customer_id: str) -> str:
    digest = hmac.new(key, customer_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "p:" + digest[:PSEUDONYM_HEX_CHARS]


class Pseudonymiser:
    """Holds the key; `pseudonymise(customer_id)` is what other parts call before logging."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = key

    def __call__(self, customer_id: str) -> str:
        return pseudonymise(self._key, customer_id)

    def pseudonymise(self, customer_id: str) -> str:
        return pseudonymise(self._key, customer_id)

    def derive(self, purpose: str) -> bytes:
        """A secret for `purpose` alone (HMAC of the key): other parts' keyed hashes share
        nothing with the pseudonyms, and nothing of the key can be learnt from them."""
        return hmac.new(self._key, _DERIVE_CONTEXT + purpose.encode("utf-8"), hashlib.sha256).digest()

    def __repr__(self) -> str:  # never print the key
        return "Pseudonymiser(<key>)"
