"""Dead letters written before they named customers by pseudonym (schema v9): screened once.

Such rows (`raw_state IS NULL`) may hold a card UID or a MAC in clear in `raw`, `topic` or
`detail`. `screen_legacy_dead_letters` passes each through the same redaction as a new dead letter
(given as `redact`: the normaliser's, with the consent part's pseudonymiser) and writes the result
back, in batches, so erasure and export find them by exact pseudonym like any other row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import sqlite_utils

from gateway.store.database import Transaction

_BATCH = 500


class RedactedRow(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def raw(self) -> bytes: ...
    @property
    def detail(self) -> str: ...
    @property
    def customer_pseudonym(self) -> str | None: ...
    @property
    def raw_state(self) -> str: ...


Redact = Callable[[str, bytes, str, float], RedactedRow]


def screen_legacy_dead_letters(db: sqlite_utils.Database, redact: Redact) -> int:
    """Redact every unscreened dead letter; returns how many were screened."""
    screened = 0
    while True:
        rows = db.conn.execute(
            "SELECT id, received_at, topic, detail, raw FROM dead_letters WHERE raw_state IS NULL ORDER BY id LIMIT ?", (_BATCH,)
        ).fetchall()
        if not rows:
            return screened
        updates = []
        for row_id, received_at, topic, detail, raw in rows:
            done = redact(str(topic), bytes(raw or b""), str(detail or ""), float(received_at))
            updates.append((done.topic, done.raw, done.detail, done.customer_pseudonym, done.raw_state, row_id))
        with Transaction(db) as conn:
            conn.executemany(
                "UPDATE dead_letters SET topic = ?, raw = ?, detail = ?, customer_pseudonym = ?, raw_state = ? WHERE id = ?", updates
            )
        screened += len(updates)
