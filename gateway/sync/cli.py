"""`touchgate sync status`: the outbox and what sync has counted, read from the database.
`touchgate sync drain`: send everything queued to the central service now."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from gateway.store.database import connect
from gateway.store.outbox import outbox_stats, sync_dead_letters
from gateway.store.sync_state import get_cursor, read_counters
from gateway.commandline import add_config_argument, settings_or_exit


def register(subparsers: Any) -> None:
    sync = subparsers.add_parser("sync", help="store-and-forward sync with the central service")
    commands = sync.add_subparsers(dest="sync_command", required=True)
    status = commands.add_parser("status", help="outbox depth, bytes, age, counters and cursor")
    add_config_argument(status)
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(handler=cmd_status)
    drain = commands.add_parser(
        "drain", help="send everything queued to the central service now (exit 0 once the outbox is empty)"
    )
    add_config_argument(drain)
    drain.add_argument("--timeout", type=float, default=300.0, metavar="S", help="give up after S seconds (exit 1)")
    drain.add_argument("--json", action="store_true", help="one JSON object")
    drain.set_defaults(handler=cmd_drain)


def cmd_status(args: argparse.Namespace) -> int:
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
            if key == "counters" and isinstance(value, dict):
                for name, count in value.items():
                    print(f"  {name:22} {count}")
            else:
                print(f"{key:22} {value}")
    return 0


def cmd_drain(args: argparse.Namespace) -> int:
    from gateway.sync.drain import drain_outbox
    from gateway.sync.sender import DrainEnd

    settings = settings_or_exit(args.config)
    if settings.sync.url is None:
        print("sync.url is not set: there is no central service to drain to", file=sys.stderr)
        return 1
    if args.timeout <= 0:
        print("--timeout must be positive", file=sys.stderr)
        return 1
    report = asyncio.run(drain_outbox(settings, args.timeout))
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(f"sent {report.sent}, rejected {report.rejected}, purged {report.purged}; {report.left} left in the outbox")
    if report.end is DrainEnd.TIMEOUT:
        print(f"timed out after {args.timeout:g}s" + (f" (last error: {report.last_error})" if report.last_error else ""), file=sys.stderr)
    elif report.end is DrainEnd.REFUSED:
        print(f"the central service refused our requests ({report.last_error}): check sync.url and sync.token", file=sys.stderr)
    return 0 if report.end is DrainEnd.EMPTY else 1
