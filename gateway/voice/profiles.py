"""The customer's local profile, for skills: only with a consent for personalisation.

Consent is asked through `ConsentLookup` (the consent part's ledger when it is built, a ledger
that allows nothing otherwise), so this module never decides consent itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from gateway.model.gate import ConsentLookup
from gateway.store.database import Store
from skills.api import Customer

PERSONALISATION = "personalisation"


def read_profile(db: sqlite_utils.Database, customer_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT attributes FROM profiles WHERE customer_id = ?", [customer_id]).fetchone()
    if row is None:
        return None
    attributes = json.loads(row[0])
    return attributes if isinstance(attributes, dict) else None


class Profiles:
    def __init__(self, store: Store, consents: ConsentLookup, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._consents = consents
        self._clock = clock

    async def customer(self, customer_id: str | None) -> Customer | None:
        if customer_id is None:
            return None
        if not self._consents.allows(customer_id, PERSONALISATION, self._clock()):
            return Customer(customer_id, None)
        profile = await self._store.call(lambda db: read_profile(db, customer_id))
        return Customer(customer_id, profile or {})
