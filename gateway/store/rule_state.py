"""Queries of the rules' own state: caps/cooldowns per rule and scope, windowed counters, and
decision counts. Written after each batch of events in one transaction (with the local profile
changes and the audit entries of the batch), read once at start.

Footfall series have a table of their own, one row per sample (`rule_footfall`): a batch appends
its new samples and deletes those that left the window, instead of rewriting the series."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from gateway.store.database import Transaction
from gateway.store.profiles import save_local_attributes

_CUSTOMER_PREFIXES = ("customer:", "visits:")


@dataclass(slots=True)
class RuleStateWrite:
    """Everything one flush writes."""

    at: float
    limits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    counters: list[tuple[str, Any]] = field(default_factory=list)
    # (place, keep_from, [(seq, at, count), ...]): gateway.rules.counters.FootfallWrite;
    # keep_from None deletes the whole series
    footfall: list[tuple[str, int | None, list[tuple[int, float, int]]]] = field(default_factory=list)
    profiles: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    stats: dict[tuple[str, str], int] = field(default_factory=dict)
    # (kind, detail) audit entries; appended with the consent part's chained log
    audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.limits or self.counters or self.footfall or self.profiles or self.stats or self.audit)


AuditAppend = Any  # (conn, kind, detail, at) -> int: the consent part's AUDIT_APPEND port (gateway/ports.py)


def _customer_of(key: str) -> str | None:
    for prefix in _CUSTOMER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return None


def write_rule_state(db: sqlite_utils.Database, write: RuleStateWrite, append_audit: AuditAppend | None = None) -> None:
    with Transaction(db) as conn:
        if write.limits:
            conn.executemany(
                "INSERT INTO rule_limits (rule_id, scope, customer_id, state, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(rule_id, scope) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
                [(rule_id, scope, _customer_of(scope), json.dumps(state), write.at) for rule_id, scope, state in write.limits],
            )
        for key, value in write.counters:
            if value is None:
                conn.execute("DELETE FROM rule_counters WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO rule_counters (key, customer_id, value, updated_at) VALUES (?,?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                    (key, _customer_of(key), json.dumps(value), write.at),
                )
        for place, keep_from, samples in write.footfall:
            if keep_from is None:
                conn.execute("DELETE FROM rule_footfall WHERE place = ?", (place,))
                continue
            conn.execute("DELETE FROM rule_footfall WHERE place = ? AND seq < ?", (place, keep_from))
            if samples:
                # OR REPLACE: a write retried after a failed commit may repeat samples.
                conn.executemany(
                    "INSERT OR REPLACE INTO rule_footfall (place, seq, at, count) VALUES (?,?,?,?)",
                    [(place, seq, at, count) for seq, at, count in samples],
                )
        if write.profiles:
            save_local_attributes(conn, write.profiles, write.at)
        if write.stats:
            conn.executemany(
                "INSERT INTO rule_stats (rule_id, outcome, count, last_at) VALUES (?,?,?,?)"
                " ON CONFLICT(rule_id, outcome) DO UPDATE SET count=count+excluded.count, last_at=excluded.last_at",
                [(rule_id, outcome, n, write.at) for (rule_id, outcome), n in write.stats.items()],
            )
        if write.audit and append_audit is not None:
            for kind, detail in write.audit:
                append_audit(conn, kind, detail, write.at)


def load_rule_state(
    db: sqlite_utils.Database, newer_than: float
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[tuple[str, Any]]]:
    """Limits and counters written after `newer_than` (older ones are past every window)."""
    conn = db.conn
    limits = [
        (r, s, json.loads(v))
        for r, s, v in conn.execute("SELECT rule_id, scope, state FROM rule_limits WHERE updated_at >= ?", (newer_than,))
    ]
    counters = [(k, json.loads(v)) for k, v in conn.execute("SELECT key, value FROM rule_counters WHERE updated_at >= ?", (newer_than,))]
    return limits, counters


def load_footfall(db: sqlite_utils.Database, newer_than: float) -> dict[str, list[tuple[int, float, int]]]:
    """Each place's footfall samples at or after `newer_than`, as (seq, at, count) in seq order."""
    series: dict[str, list[tuple[int, float, int]]] = {}
    rows = db.conn.execute(
        "SELECT place, seq, at, count FROM rule_footfall WHERE at >= ? ORDER BY place, seq", (newer_than,)
    )
    for place, seq, at, count in rows:
        series.setdefault(place, []).append((int(seq), float(at), int(count)))
    return series


def prune_rule_state(db: sqlite_utils.Database, older_than: float) -> int:
    with Transaction(db) as conn:
        gone = conn.execute("DELETE FROM rule_limits WHERE updated_at < ?", (older_than,)).rowcount
        gone += conn.execute("DELETE FROM rule_counters WHERE updated_at < ?", (older_than,)).rowcount
        gone += conn.execute("DELETE FROM rule_footfall WHERE at < ?", (older_than,)).rowcount
    return gone


def rule_stats(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [
        {"rule_id": r, "outcome": o, "count": c, "last_at": t}
        for r, o, c, t in db.conn.execute("SELECT rule_id, outcome, count, last_at FROM rule_stats ORDER BY rule_id, outcome")
    ]


def forget_customer_state(conn: sqlite3.Connection, customer_id: str) -> int:
    """Delete the customer's rule state rows (erasure also finds them by their customer_id column)."""
    gone = conn.execute("DELETE FROM rule_limits WHERE customer_id = ?", (customer_id,)).rowcount
    gone += conn.execute("DELETE FROM rule_counters WHERE customer_id = ?", (customer_id,)).rowcount
    gone += conn.execute("DELETE FROM profile_local WHERE customer_id = ?", (customer_id,)).rowcount
    return gone


def stats_by_rule(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(str(row["rule_id"]), {})[str(row["outcome"])] = int(row["count"])
    return out
