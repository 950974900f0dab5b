"""Advisory lock keys (two int4 each: a namespace, then a key) shared by every worker.

Lock order, everywhere: customer locks (sorted by key), then the changes lock. Event batches take
customer locks shared; erasures and profile/consent writes take them exclusive, so an event of a
customer erased concurrently is either stored before the erasure (and deleted by it) or rejected.
"""

from __future__ import annotations

NAMESPACE = 0x70726F66  # "prof"
MIGRATIONS_LOCK = (NAMESPACE, 1)
SEED_LOCK = (NAMESPACE, 2)
PARTITIONS_LOCK = (NAMESPACE, 3)
MAINTENANCE_LOCK = (NAMESPACE, 4)
CHANGES_LOCK = (NAMESPACE, 5)
CUSTOMER_NAMESPACE = NAMESPACE + 1  # second key: hashtext(customer_id)

# One statement for all customers of a transaction, in a fixed order (no deadlocks between them).
LOCK_CUSTOMERS_SHARED = (
    "SELECT pg_advisory_xact_lock_shared($1, k) FROM"
    " (SELECT DISTINCT hashtext(c) AS k FROM unnest($2::text[]) AS c ORDER BY k) AS keys"
)
LOCK_CUSTOMERS = (
    "SELECT pg_advisory_xact_lock($1, k) FROM"
    " (SELECT DISTINCT hashtext(c) AS k FROM unnest($2::text[]) AS c ORDER BY k) AS keys"
)
