"""Queries of the consent ledger: load, apply changes (audited), and enforce a lost consent.

Enforcement is what makes "personal data leaves only with a valid consent" hold for data already
stored: when a consent stops allowing a purpose (revoked, denied, expired), the customer's queued
outbox rows for that purpose are purged and their local events of that purpose are dropped or
stripped of the customer id, as the purpose's policy says.

The sync helper applies consents pulled from the central service through
`ConsentService.apply_changes` (gateway/consent/service.py), which calls `apply_consent_changes`
here and keeps the in-memory ledger in step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlite_utils

from gateway.consent.ledger import supersession
from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.consent.settings import PrivacySettings, Unconsented
from gateway.consent.audit_log import append_audit
from gateway.store.database import Transaction

Pseudonymise = Callable[[str], str]


@dataclass
class AppliedConsents:
    """The outcome of a batch of changes: what is now current for every key touched."""

    current: list[ConsentRecord] = field(default_factory=list)
    applied: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    purged_outbox: int = 0
    events_changed: int = 0


def _row_to_record(row: sqlite3.Row | tuple[object, ...]) -> ConsentRecord:
    customer_id, purpose, status, changed_at, source, expires_at = row
    return ConsentRecord(
        customer_id=customer_id, purpose=purpose, status=status, changed_at=changed_at, source=source, expires_at=expires_at
    )


_SELECT = "SELECT customer_id, purpose, status, changed_at, source, expires_at FROM consents"


def load_consents(db: sqlite_utils.Database) -> list[ConsentRecord]:
    return [_row_to_record(row) for row in db.conn.execute(_SELECT)]


def consents_of(db: sqlite_utils.Database, customer_id: str) -> list[ConsentRecord]:
    return [_row_to_record(r) for r in db.conn.execute(_SELECT + " WHERE customer_id = ? ORDER BY purpose", (customer_id,))]


def is_known_customer(db: sqlite_utils.Database, customer_id: str) -> bool:
    """Known to the store: holds a consent record or a profile pulled from the central service."""
    conn = db.conn
    return bool(
        conn.execute("SELECT 1 FROM consents WHERE customer_id = ? LIMIT 1", (customer_id,)).fetchone()
        or conn.execute("SELECT 1 FROM profiles WHERE customer_id = ? LIMIT 1", (customer_id,)).fetchone()
    )


def apply_consent_changes(
    db: sqlite_utils.Database,
    records: Sequence[ConsentRecord],
    *,
    pseudonymise: Pseudonymise,
    privacy: PrivacySettings,
    now: float,
) -> AppliedConsents:
    """Apply changes in one transaction: last decision wins (older changes are skipped), a change
    from the central service decided before the customer's erasure is skipped, as is one for a
    purpose this gateway does not know (it could never be used), each applied
    change is audited, and any consent that no longer allows its purpose now is enforced."""
    result = AppliedConsents()
    touched: dict[tuple[str, str], None] = {}
    with Transaction(db) as conn:
        for record in records:
            key = (record.customer_id, record.purpose)
            touched[key] = None
            previous_row = conn.execute(_SELECT + " WHERE customer_id = ? AND purpose = ?", key).fetchone()
            previous = _row_to_record(previous_row) if previous_row else None
            skip = _skip_reason(conn, record, previous, pseudonymise, privacy.purposes, now)
            if skip is not None:
                result.skipped[skip] = result.skipped.get(skip, 0) + 1
                if skip != "unchanged":  # a decision not taken is a record of processing too
                    append_audit(
                        conn,
                        "consent.skipped",
                        {
                            "customer": pseudonymise(record.customer_id),
                            "purpose": record.purpose,
                            "status": record.status.value,
                            "held": previous.status.value if previous else None,
                            "source": record.source.value,
                            "changed_at": record.changed_at,
                            "reason": skip,
                        },
                        now,
                    )
                continue
            conn.execute(
                "INSERT INTO consents (customer_id, purpose, status, changed_at, source, expires_at) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(customer_id, purpose) DO UPDATE SET status=excluded.status,"
                " changed_at=excluded.changed_at, source=excluded.source, expires_at=excluded.expires_at",
                (*key, record.status.value, record.changed_at, record.source.value, record.expires_at),
            )
            purged, changed = (0, 0) if record.allows(now) else enforce_lost_consent(conn, *key, privacy)
            result.applied += 1
            result.purged_outbox += purged
            result.events_changed += changed
            append_audit(
                conn,
                "consent.change",
                {
                    "customer": pseudonymise(record.customer_id),
                    "purpose": record.purpose,
                    "status": record.status.value,
                    "previous": previous.status.value if previous else None,
                    "source": record.source.value,
                    "changed_at": record.changed_at,
                    "expires_at": record.expires_at,
                    "purged_outbox": purged,
                    "events_changed": changed,
                },
                now,
            )
        for key in touched:
            row = conn.execute(_SELECT + " WHERE customer_id = ? AND purpose = ?", key).fetchone()
            if row is not None:
                result.current.append(_row_to_record(row))
    return result


def _skip_reason(
    conn: sqlite3.Connection,
    record: ConsentRecord,
    previous: ConsentRecord | None,
    pseudonymise: Pseudonymise,
    purposes: Sequence[str],
    now: float,
) -> str | None:
    if record.purpose not in purposes:
        return "unknown_purpose"
    skip = supersession(record, previous, now)
    if skip is not None:
        return skip
    if record.source is ConsentSource.CENTRAL:
        erased = conn.execute(
            "SELECT MAX(requested_at) FROM erasures WHERE pseudonym = ?", (pseudonymise(record.customer_id),)
        ).fetchone()[0]
        if erased is not None and record.changed_at <= erased:
            return "before_erasure"
    return None


def enforce_lost_consent(
    conn: sqlite3.Connection, customer_id: str, purpose: str, privacy: PrivacySettings
) -> tuple[int, int]:
    """Purge the queued outbox rows and drop or strip the local events of a customer for a
    purpose they no longer consent to. Returns (outbox rows purged, events dropped or stripped)."""
    purged = conn.execute("DELETE FROM outbox WHERE customer_id = ? AND purpose = ?", (customer_id, purpose)).rowcount
    if privacy.policy(purpose).unconsented is Unconsented.DROP:
        changed = conn.execute("DELETE FROM events WHERE customer_id = ? AND purpose = ?", (customer_id, purpose)).rowcount
    else:
        attributes = "attributes"
        for name in privacy.sensitive_attributes:
            attributes = f"json_remove({attributes}, ?)"
        paths = [_json_path(name) for name in privacy.sensitive_attributes]
        changed = conn.execute(
            f"UPDATE events SET customer_id = NULL, attributes = {attributes} WHERE customer_id = ? AND purpose = ?",
            (*paths, customer_id, purpose),
        ).rowcount
    return purged, changed


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


def expire_consents(
    db: sqlite_utils.Database,
    due: Sequence[ConsentRecord],
    *,
    pseudonymise: Pseudonymise,
    privacy: PrivacySettings,
    now: float,
) -> list[ConsentRecord]:
    """Mark granted consents whose expiry has passed as expired, enforce and audit each."""
    done: list[ConsentRecord] = []
    with Transaction(db) as conn:
        for record in due:
            updated = conn.execute(
                "UPDATE consents SET status = ?, source = ? WHERE customer_id = ? AND purpose = ? AND status = ?"
                " AND expires_at IS NOT NULL AND expires_at <= ?",
                (ConsentStatus.EXPIRED.value, ConsentSource.GATEWAY.value, record.customer_id, record.purpose,
                 ConsentStatus.GRANTED.value, now),
            ).rowcount
            if not updated:
                continue
            purged, changed = enforce_lost_consent(conn, record.customer_id, record.purpose, privacy)
            append_audit(
                conn,
                "consent.expired",
                {
                    "customer": pseudonymise(record.customer_id),
                    "purpose": record.purpose,
                    "expires_at": record.expires_at,
                    "purged_outbox": purged,
                    "events_changed": changed,
                },
                now,
            )
            done.append(record.model_copy(update={"status": ConsentStatus.EXPIRED, "source": ConsentSource.GATEWAY}))
    return done
