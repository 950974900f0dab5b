"""Anonymous device ids: a clear identifier (a BLE MAC) hashed under a salt that rotates daily. Pure.

Low on purpose (standard library only): the analytics part counts phones with it, and ingest's
handling of BLE sightings may use the same function to drop MACs where they arrive.

The salt of a day is HMAC(secret, context + date): without the secret nobody can test a guessed
MAC against an id, and tomorrow's ids cannot be linked to today's. The secret should be derived
for the purpose (the consent part's `DERIVE_SECRET` port), never a key used for something else.
"""

from __future__ import annotations

import hashlib
import hmac

ANON_ID_BYTES = 12  # 96 bits: no collision among a day's devices, nothing to reverse without the salt
MIN_SECRET_BYTES = 16
PRESENCE_CONTEXT = "touchgate.analytics.presence/"


def normalise_identifier(identifier: str) -> str:
    """MACs arrive as "AA:BB:..", "aabb..", "AA-BB-..": one device, one spelling."""
    return identifier.replace(":", "").replace("-", "").strip().lower()


def daily_salt(secret: bytes, day: str, context: str = PRESENCE_CONTEXT) -> bytes:
    """The salt of one local day ("2026-12-03") for one purpose (`context`)."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
    return hmac.new(secret, (context + day).encode(), hashlib.sha256).digest()


def anonymous_id(salt: bytes, identifier: str) -> bytes:
    """The identifier's id under `salt` (from `daily_salt`): same device, same day, same id."""
    return hmac.new(salt, normalise_identifier(identifier).encode(), hashlib.sha256).digest()[:ANON_ID_BYTES]
