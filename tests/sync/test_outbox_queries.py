"""The periodic outbox checks (TTL, byte budget, status numbers) must not scan the outbox's bodies:
run on the store's thread, such a scan of a large outbox held every commit for tens of ms (seen in
the soak as p99 spikes growing with the outbox)."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.store.database import connect
from gateway.store.operator_rows import store_snapshot
from gateway.store.outbox import enforce_limits, outbox_stats


def test_outbox_age_and_size_are_read_from_the_narrow_index(tmp_path: Path) -> None:
    db = connect(tmp_path / "touchgate.db")
    now = time.time()
    db.conn.executemany(
        "INSERT INTO outbox (event_id, enqueued_at, purpose, kind, body, bytes) VALUES (?,?,?,?,?,?)",
        [(f"e{i}", now - i, "analytics", "climate", "{}" * 100, 200) for i in range(200)],
    )
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    enforce_limits(db, max_bytes=10**9, ttl_s=3600, now=now)
    outbox_stats(db)
    store_snapshot(db, now)
    db.conn.set_trace_callback(None)

    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and " outbox" in s]
    assert len(reads) >= 4, statements
    for sql in reads:
        plan = " ".join(str(row[-1]) for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "SCAN outbox" not in plan or "INDEX outbox_age" in plan, (sql, plan)
    db.conn.close()
