"""The privacy skill's actions, backed by the consent part (erasure, export) and the store.

`RecordsPrivacy` hands "forget me" to the consent part's erasure (its customer records port:
every local row, queued upstream, audited) and answers "what do you know about me" from its
export. Without a consent
part, `StorePrivacy` can still describe, but erases nothing (`forget` returns None and the skill
says so) – erasure belongs to the consent part alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlite_utils

from gateway.ports import CustomerRecords
from gateway.store.database import Store
from skills.api import CustomerSummary


class RecordsPrivacy:
    def __init__(self, records: CustomerRecords, after_forget: Callable[[str], None]) -> None:
        self._records = records
        self._after_forget = after_forget

    async def forget(self, customer_id: str) -> int | None:
        result = await self._records.erase(customer_id, "touchpoint")
        self._after_forget(customer_id)
        return result.total

    async def describe(self, customer_id: str) -> CustomerSummary:
        export = await self._records.export(customer_id)
        tables: dict[str, list[dict[str, Any]]] = export["tables"]
        profile_rows = tables.get("profiles", [])
        profile = _attributes(profile_rows[0]) if profile_rows else {}
        consents = {str(r["purpose"]): str(r["status"]) for r in tables.get("consents", [])}
        return CustomerSummary(len(tables.get("events", [])), sorted(profile), consents, _points(profile))


class StorePrivacy:
    """Describe from the store's tables; no erasure (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def forget(self, customer_id: str) -> int | None:
        return None

    async def describe(self, customer_id: str) -> CustomerSummary:
        return await self._store.call(lambda db: describe_customer(db, customer_id))


def describe_customer(db: sqlite_utils.Database, customer_id: str) -> CustomerSummary:
    events = db.execute("SELECT count(*) FROM events WHERE customer_id = ?", [customer_id]).fetchone()[0]
    row = db.execute("SELECT attributes FROM profiles WHERE customer_id = ?", [customer_id]).fetchone()
    profile = _attributes({"attributes": row[0]}) if row else {}
    consents = {p: s for p, s in db.execute("SELECT purpose, status FROM consents WHERE customer_id = ?", [customer_id])}
    return CustomerSummary(int(events), sorted(profile), consents, _points(profile))


def _attributes(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("attributes")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _points(profile: dict[str, Any]) -> int | None:
    points = profile.get("loyalty_points")
    return points if isinstance(points, int) and not isinstance(points, bool) else None
