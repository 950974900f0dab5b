"""The admin API's security events (logins, refused tokens, locks, logouts) in the hash-chained
audit log, through the consent part's AUDIT_APPEND port; without that part they are logged only."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlite_utils

from gateway.ports import AuditAppend
from gateway.store.database import Store, Transaction


def store_audit(store: Store, append: AuditAppend | None) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    async def audit(kind: str, detail: dict[str, Any]) -> None:
        if append is None:
            return
        at = time.time()

        def write(db: sqlite_utils.Database) -> None:
            with Transaction(db) as conn:
                append(conn, kind, detail, at)

        await store.call(write)

    return audit
