"""Queries of the local profiles: the attributes pulled from the central service (`profiles`)
and the ones kept locally by the rules (`profile_local`: visits, points, badges, set values).

The two are kept apart so a pull never overwrites a local counter and a local write never
pretends to come from the central service; the rules see the local ones laid over the pulled.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils

from gateway.store.database import Transaction


def merge_profile_attributes(
    db: sqlite_utils.Database, customer_id: str, attributes: Mapping[str, Any], updated_at: float
) -> bool:
    """Merge pulled attributes into the customer's profile in its own transaction; see
    `merge_profile_row`. Returns whether anything was written."""
    with Transaction(db) as conn:
        return merge_profile_row(conn, customer_id, attributes, updated_at)


def merge_profile_row(conn: sqlite3.Connection, customer_id: str, attributes: Mapping[str, Any], updated_at: float) -> bool:
    """Merge attributes into the customer's profile inside the caller's transaction (a key set to
    None is removed). Older updates than the stored one are ignored, so a late or replayed pull
    cannot roll the profile back. Returns whether anything was written."""
    row = conn.execute("SELECT attributes, updated_at FROM profiles WHERE customer_id = ?", (customer_id,)).fetchone()
    current: dict[str, Any] = {}
    if row is not None:
        if float(row[1]) > updated_at:
            return False
        current = json.loads(row[0])
    for key, value in attributes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    conn.execute(
        "INSERT INTO profiles (customer_id, attributes, updated_at) VALUES (?,?,?)"
        " ON CONFLICT(customer_id) DO UPDATE SET attributes=excluded.attributes, updated_at=excluded.updated_at",
        (customer_id, json.dumps(current, separators=(",", ":"), sort_keys=True), updated_at),
    )
    return True


def load_profiles(
    db: sqlite_utils.Database, customer_ids: Iterable[str]
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """customer → (pulled attributes, local attributes); customers without rows get empty ones."""
    ids = list(dict.fromkeys(customer_ids))
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {cid: ({}, {}) for cid in ids}
    conn = db.conn
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for cid, attributes in conn.execute(f"SELECT customer_id, attributes FROM profiles WHERE customer_id IN ({marks})", chunk):
            out[cid][0].update(json.loads(attributes))
        for cid, attributes in conn.execute(f"SELECT customer_id, attributes FROM profile_local WHERE customer_id IN ({marks})", chunk):
            out[cid][1].update(json.loads(attributes))
    return out


def save_local_attributes(conn: Any, rows: Iterable[tuple[str, Mapping[str, Any]]], at: float) -> None:
    """Write customers' whole local attribute sets; call inside a transaction."""
    conn.executemany(
        "INSERT INTO profile_local (customer_id, attributes, updated_at) VALUES (?,?,?)"
        " ON CONFLICT(customer_id) DO UPDATE SET attributes=excluded.attributes, updated_at=excluded.updated_at",
        [(cid, json.dumps(dict(attrs), separators=(",", ":"), sort_keys=True), at) for cid, attrs in rows],
    )


def profile_view(db: sqlite_utils.Database, customer_id: str) -> dict[str, Any]:
    """What the rules see for one customer (pulled attributes with local ones over them)."""
    pulled, local = load_profiles(db, [customer_id])[customer_id]
    return {**pulled, **local}
