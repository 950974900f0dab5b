"""The audit log's hash chain. Pure: computing and checking hashes of entries.

Each entry's hash covers its sequence number, time, kind, detail and the previous entry's hash,
so altering, removing or reordering any entry breaks every hash after it. Removing entries at the
end is caught by comparing with the head recorded separately (and, for an attacker who can also
rewrite that, by comparing with a head copied elsewhere: `touchgate audit verify` prints it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_detail(detail: dict[str, Any]) -> str:
    """The one JSON text of a detail that the hash covers (sorted keys, no spaces)."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, seq: int, at: float, kind: str, detail_json: str) -> str:
    material = f"{prev_hash}\n{seq}\n{at!r}\n{kind}\n{detail_json}".encode()
    return hashlib.sha256(material).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    at: float
    kind: str
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problem: str = ""
    bad_seq: int | None = None


def verify_chain(rows: Iterable[AuditRow], recorded_head: tuple[int, str] | None) -> Verdict:
    """Check every link, then that the last entry is the head recorded when it was written."""
    prev_hash, prev_seq, count = GENESIS, 0, 0
    for row in rows:
        count += 1
        if row.seq != prev_seq + 1:
            return Verdict(False, count, prev_seq, prev_hash, f"entries {prev_seq + 1}..{row.seq - 1} are missing", row.seq)
        if row.prev_hash != prev_hash:
            return Verdict(False, count, prev_seq, prev_hash, "does not link to the entry before it", row.seq)
        if entry_hash(row.prev_hash, row.seq, row.at, row.kind, row.detail) != row.hash:
            return Verdict(False, count, prev_seq, prev_hash, "content does not match its hash (altered)", row.seq)
        prev_hash, prev_seq = row.hash, row.seq
    if recorded_head is not None and recorded_head != (prev_seq, prev_hash):
        return Verdict(
            False, count, prev_seq, prev_hash,
            f"the log ends at entry {prev_seq} but entry {recorded_head[0]} was written (entries removed at the end)",
            prev_seq + 1,
        )
    if recorded_head is None and count:
        return Verdict(False, count, prev_seq, prev_hash, "the recorded head of the log is missing", None)
    return Verdict(True, count, prev_seq, prev_hash)
