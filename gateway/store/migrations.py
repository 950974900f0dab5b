"""Forward-only schema migrations, numbered by `PRAGMA user_version`.

Append a new function to MIGRATIONS to change the schema; never edit one that has shipped.
Each runs in its own transaction, after a backup taken by the caller where it matters (deploy).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# A migration is an SQL script, or a function for changes SQL alone cannot express; both run
# inside one transaction together with the version bump.
Migration = str | Callable[[sqlite3.Connection], None]

_V1_INITIAL = """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            received_at REAL NOT NULL,
            device_time REAL,
            site TEXT NOT NULL,
            device TEXT NOT NULL,
            kind TEXT NOT NULL,
            purpose TEXT NOT NULL,
            customer_id TEXT,
            profile TEXT NOT NULL,
            topic TEXT NOT NULL,
            attributes TEXT NOT NULL
        );
        CREATE INDEX events_customer ON events(customer_id) WHERE customer_id IS NOT NULL;
        CREATE INDEX events_received ON events(received_at);

        -- What may leave the shop. body is the JSON sent to the central service.
        CREATE TABLE outbox (
            event_id TEXT PRIMARY KEY,
            enqueued_at REAL NOT NULL,
            customer_id TEXT,
            purpose TEXT NOT NULL,
            body TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX outbox_customer ON outbox(customer_id, purpose) WHERE customer_id IS NOT NULL;

        CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            received_at REAL NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            raw BLOB NOT NULL,
            raw_size INTEGER NOT NULL
        );
        CREATE INDEX dead_letters_received ON dead_letters(received_at);

        CREATE TABLE consents (
            customer_id TEXT NOT NULL,
            purpose TEXT NOT NULL,
            status TEXT NOT NULL,
            changed_at REAL NOT NULL,
            source TEXT NOT NULL,
            expires_at REAL,
            PRIMARY KEY (customer_id, purpose)
        );

        CREATE TABLE profiles (
            customer_id TEXT PRIMARY KEY,
            attributes TEXT NOT NULL,
            updated_at REAL NOT NULL
        );

        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );

        CREATE TABLE devices (
            site TEXT NOT NULL,
            device TEXT NOT NULL,
            profile TEXT NOT NULL,
            last_seen REAL NOT NULL,
            messages INTEGER NOT NULL,
            PRIMARY KEY (site, device)
        );

        -- The last QoS 1 message committed under each packet id. After a crash between commit and
        -- PUBACK the broker redelivers it with DUP set and the same id: this is how we know it is
        -- already stored and only acknowledge it.
        CREATE TABLE delivered (
            mid INTEGER PRIMARY KEY,
            digest BLOB NOT NULL
        );

        -- Small key/value state that must survive restarts (sync cursor, counters).
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
"""

# Erasure records (the customer's keyed hash, never the id) and the queue of erasures still to be
# delivered to the central service (the id in clear, deleted by sync once delivered).
_V2_ERASURES = """
        CREATE TABLE erasures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pseudonym TEXT NOT NULL,
            requested_at REAL NOT NULL,
            source TEXT NOT NULL,
            deleted TEXT NOT NULL
        );
        CREATE INDEX erasures_pseudonym ON erasures(pseudonym);

        CREATE TABLE erasures_outbox (
            erasure_id INTEGER PRIMARY KEY REFERENCES erasures(id),
            customer_id TEXT NOT NULL,
            requested_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0
        );
"""


_V3_RULES = """
        -- Profile attributes kept locally (visit count, points, badges, rule-set values), laid
        -- over the pulled ones in `profiles`.
        CREATE TABLE profile_local (
            customer_id TEXT PRIMARY KEY,
            attributes TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        -- Caps and cooldowns per rule and scope; customer_id is set for per-customer scopes so
        -- an erasure finds the rows.
        CREATE TABLE rule_limits (
            rule_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            customer_id TEXT,
            state TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (rule_id, scope)
        );
        CREATE INDEX rule_limits_customer ON rule_limits(customer_id) WHERE customer_id IS NOT NULL;
        -- Counters over windows (occupancy, footfall, visits).
        CREATE TABLE rule_counters (
            key TEXT PRIMARY KEY,
            customer_id TEXT,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX rule_counters_customer ON rule_counters(customer_id) WHERE customer_id IS NOT NULL;
        -- How often each rule fired or was skipped, and why (no personal data).
        CREATE TABLE rule_stats (
            rule_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            count INTEGER NOT NULL,
            last_at REAL NOT NULL,
            PRIMARY KEY (rule_id, outcome)
        );
"""


# The event kind beside each queued body, so sync can count what the central service accepted
# per kind without parsing the JSON again; rows queued before this version get it from the body.
_V4_OUTBOX_KIND = """
        ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT '';
        UPDATE outbox SET kind = COALESCE(json_extract(body, '$.kind'), '') WHERE json_valid(body);
"""


# The rules' footfall series, one row per sample: a batch appends its samples and deletes those
# past the window, instead of rewriting the whole series (up to 20 000 samples, ~400 kB of JSON)
# in rule_counters after every batch. Series saved the old way are moved over.
_V5_RULE_FOOTFALL = """
        CREATE TABLE rule_footfall (
            place TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at REAL NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (place, seq)
        ) WITHOUT ROWID;
        INSERT INTO rule_footfall (place, seq, at, count)
            SELECT substr(c.key, length('footfall:') + 1), s.key, json_extract(s.value, '$[0]'), json_extract(s.value, '$[1]')
            FROM rule_counters AS c, json_each(c.value, '$.samples') AS s
            WHERE c.key LIKE 'footfall:%' AND json_valid(c.value);
        DELETE FROM rule_counters WHERE key LIKE 'footfall:%';
"""

# The outbox's age and size (its TTL, its byte budget, the status numbers) are read from this
# narrow index instead of the wide table: with the central service away for a day the outbox holds
# 100k+ rows, and scanning their bodies every limits check held the store's thread (and so every
# commit) for tens of milliseconds. Range queries on age become index searches.
_V6_OUTBOX_AGE = """
        CREATE INDEX IF NOT EXISTS outbox_age ON outbox(enqueued_at, bytes);
"""


# Poison-message quarantine and retained-state dedupe (gateway/quarantine.py). `in_flight` holds a
# redelivered message's key (blake2b of topic and payload) while it is worked on alone; a row still
# there at the next start means the process died with it in hand. `topic_last` is the digest of the
# last message taken on each sensor topic, so a retained state the broker replays on every
# (re)subscribe is recognised and stored once.
_V7_QUARANTINE = """
        CREATE TABLE IF NOT EXISTS in_flight (
            key BLOB PRIMARY KEY,
            topic TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            first_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS topic_last (
            topic TEXT PRIMARY KEY,
            digest BLOB NOT NULL
        );
"""


# In-store analytics (gateway/analytics): per-zone hours (the unit that may be synced, once
# k-anonymous; `settled` holds the figure groups already released, merged or suppressed) and a
# per-minute series for the status page's plots. Both are bounded by retention settings. No
# identifier of any kind is stored here: anonymous BLE ids live in memory only.
_V8_ANALYTICS = """
        CREATE TABLE IF NOT EXISTS analytics_hours (
            zone TEXT NOT NULL,
            hour INTEGER NOT NULL,
            footfall_in INTEGER NOT NULL,
            footfall_out INTEGER NOT NULL,
            visits INTEGER NOT NULL,
            dwell_sum_s REAL NOT NULL,
            devices INTEGER NOT NULL,
            device_visits INTEGER NOT NULL,
            device_dwell_sum_s REAL NOT NULL,
            exits INTEGER NOT NULL,
            occupancy_integral REAL NOT NULL,
            occupancy_max INTEGER NOT NULL,
            tills INTEGER NOT NULL,
            settled INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (zone, hour)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS analytics_hours_hour ON analytics_hours(hour);
        CREATE TABLE IF NOT EXISTS analytics_series (
            zone TEXT NOT NULL,
            minute INTEGER NOT NULL,
            occupancy INTEGER NOT NULL,
            occupancy_max INTEGER NOT NULL,
            queue INTEGER NOT NULL,
            devices INTEGER NOT NULL,
            motion INTEGER NOT NULL,
            PRIMARY KEY (zone, minute)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS analytics_series_minute ON analytics_series(minute);
"""


# Dead letters name their customer by keyed pseudonym, so erasure and export match exactly (an
# index, never a search of the payload). Rows from before have raw_state NULL: the gateway (and
# the privacy CLI) screen them with the key and the profiles before anything reads them
# (gateway/store/dead_letter_rows.py), since SQL alone has neither.
_V9_DEAD_LETTER_PSEUDONYMS = """
        ALTER TABLE dead_letters ADD COLUMN customer_pseudonym TEXT;
        ALTER TABLE dead_letters ADD COLUMN raw_state TEXT;
        CREATE INDEX IF NOT EXISTS dead_letters_customer ON dead_letters(customer_pseudonym) WHERE customer_pseudonym IS NOT NULL;
        CREATE INDEX IF NOT EXISTS dead_letters_unscreened ON dead_letters(id) WHERE raw_state IS NULL;
"""


MIGRATIONS: list[Migration] = [
    _V1_INITIAL, _V2_ERASURES, _V3_RULES, _V4_OUTBOX_KIND, _V5_RULE_FOOTFALL, _V6_OUTBOX_AGE, _V7_QUARANTINE, _V8_ANALYTICS,
    _V9_DEAD_LETTER_PSEUDONYMS,
]


def migrate(conn: sqlite3.Connection) -> tuple[int, int]:
    """Bring the schema to the newest version; returns (from, to)."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    target = len(MIGRATIONS)
    if current > target:
        raise RuntimeError(f"database schema v{current} is newer than this gateway (v{target}); refusing to run")
    for version in range(current, target):
        step = MIGRATIONS[version]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(step, str):
                for statement in _statements(step):
                    conn.execute(statement)
            else:
                step(conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return current, target


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would commit our transaction)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
