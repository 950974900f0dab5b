"""The pseudonym key, generated once and kept in the `state` table (unless set in the config)."""

from __future__ import annotations

import sqlite_utils

from gateway.consent.pseudonym import new_key
from gateway.store.database import Transaction

KEY_STATE = "privacy.pseudonym_key"


def load_or_create_pseudonym_key(db: sqlite_utils.Database) -> bytes:
    """The stored key, or a new random one stored now (INSERT OR IGNORE: if two processes start at
    once, both end up with the one that was written first)."""
    with Transaction(db) as conn:
        conn.execute("INSERT OR IGNORE INTO state (key, value) VALUES (?, ?)", (KEY_STATE, new_key().hex()))
        row = conn.execute("SELECT value FROM state WHERE key = ?", (KEY_STATE,)).fetchone()
    return bytes.fromhex(str(row[0]))
