"""`touchgate sync status`: the outbox and what sync has counted, read from the database."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from gateway.store.database import connect
from gateway.store.outbox import outbox_stats, sync_dead_letters
from gateway.store.sync_state import get_cursor, read_counters


def register(subparsers: Any) -> None:
    from gateway.cli import add_config_argument

    sync = subparsers.add_parser("sync", help="store-and-forward sync with the central service")
    commands = sync.add_subparsers(dest="sync_command", required=True)
    status = commands.add_parser("status", help="outbox depth, bytes, age, counters and cursor")
    add_config_argument(status)
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    from gateway.cli import settings_or_exit

    settings = settings_or_exit(args.config)
    db = connect(settings.store.path)
    try:
        stats = outbox_stats(db)
        report = {
            "central": str(settings.sync.url) if settings.sync.url else None,
            "outbox_events": stats.events,
            "outbox_bytes": stats.bytes,
            "outbox_budget_bytes": settings.sync.outbox_max_bytes,
            "oldest_age_s": round(time.time() - stats.oldest_enqueued_at, 1) if stats.oldest_enqueued_at else None,
            "dead_letters": sync_dead_letters(db),
            "changes_cursor": get_cursor(db),
            "counters": read_counters(db),
        }
    finally:
        db.conn.close()
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            if key == "counters":
                for name, count in value.items():
                    print(f"  {name:22} {count}")
            else:
                print(f"{key:22} {value}")
    return 0
