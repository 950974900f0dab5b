"""`touchgate forget CUSTOMER`, `touchgate export CUSTOMER [--out FILE]`, `touchgate audit verify`.

They work on the store file directly, whether or not the gateway runs: a running gateway notices
the change within `privacy.refresh_check_s` and erases again whatever it wrote in between.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import sqlite_utils

from gateway.commandline import add_config_argument, settings_or_exit
from gateway.config.settings import Settings
from gateway.consent.export_file import write_customer_export
from gateway.consent.model import ConsentSource
from gateway.consent.pseudonym import Pseudonymiser
from gateway.consent.audit_log import verify_audit
from gateway.store.database import connect
from gateway.consent.erasure_rows import erase_customer
from gateway.consent.key_row import load_or_create_pseudonym_key
from gateway.devices.identifiers import DailyAnonymiser, DeviceIdentifiers
from gateway.devices.normalise import Normaliser
from gateway.devices.registry import load_profiles
from gateway.store.dead_letter_rows import screen_legacy_dead_letters
from gateway.private_file import TargetExists, private_file


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    forget = subparsers.add_parser("forget", help="erase every local row of a customer and queue the erasure upstream")
    add_config_argument(forget)
    forget.add_argument("customer", help="the customer's pseudonymous id, e.g. card:94D8FC5F")
    forget.set_defaults(handler=cmd_forget)

    export = subparsers.add_parser("export", help="write all local data about a customer as JSON")
    add_config_argument(export)
    export.add_argument("customer")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: standard output)")
    export.set_defaults(handler=cmd_export)

    audit = subparsers.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check every entry's hash chain")
    add_config_argument(verify)
    verify.set_defaults(handler=cmd_audit_verify)


def _open(settings: Settings) -> tuple[sqlite_utils.Database, Pseudonymiser]:
    db = connect(settings.store.path)
    key_setting = settings.privacy.pseudonym_key
    key = key_setting.get_secret_value().encode("utf-8") if key_setting else load_or_create_pseudonym_key(db)
    pseudonymiser = Pseudonymiser(key)
    _screen_dead_letters(db, settings, pseudonymiser)
    return db, pseudonymiser


def _screen_dead_letters(db: sqlite_utils.Database, settings: Settings, pseudonymiser: Pseudonymiser) -> None:
    """Dead letters kept before they named customers by pseudonym are screened first (as the
    gateway does at start), so an erasure or export here finds them too."""
    profiles, _ = load_profiles(settings.device_profiles_dir)
    identifiers = DeviceIdentifiers(profiles, settings.ingest.own_beacons, DailyAnonymiser())
    normaliser = Normaliser(
        profiles, settings.site_id, settings.ingest.max_payload_bytes, settings.store.dead_letter_raw_cap, identifiers=identifiers
    )
    normaliser.redactor.use_pseudonyms(pseudonymiser)
    screen_legacy_dead_letters(db, normaliser.redact)


def cmd_forget(args: argparse.Namespace) -> int:
    db, pseudonymise = _open(settings_or_exit(args.config))
    try:
        result = erase_customer(
            db, args.customer, pseudonym=pseudonymise(args.customer), source=ConsentSource.OPERATOR, now=time.time()
        )
    finally:
        db.conn.close()
    print(json.dumps({"erased": result.pseudonym, "erasure_id": result.erasure_id, "deleted": result.deleted}))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    db, pseudonymise = _open(settings_or_exit(args.config))
    pseudonym = pseudonymise(args.customer)
    try:
        if args.out is None:
            write_customer_export(db, args.customer, pseudonym=pseudonym, now=time.time(), out=sys.stdout)
            return 0
        # Personal data: a new file readable by the operator only, never written through a
        # link or over another file, complete or absent (gateway/private_file.py).
        try:
            with private_file(args.out) as out:
                written = write_customer_export(db, args.customer, pseudonym=pseudonym, now=time.time(), out=out)
        except TargetExists as exc:
            print(f"touchgate export: {exc.filename}: {exc.strerror}", file=sys.stderr)
            return 1
    finally:
        db.conn.close()
    print(f"wrote {sum(written.values())} rows about {pseudonym} to {args.out}", file=sys.stderr)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    db, _ = _open(settings_or_exit(args.config))
    try:
        verdict = verify_audit(db)
    finally:
        db.conn.close()
    if verdict.ok:
        print(f"audit log OK: {verdict.entries} entries, head {verdict.head_seq} {verdict.head_hash}")
        return 0
    where = f"entry {verdict.bad_seq}: " if verdict.bad_seq is not None else ""
    print(f"audit log BROKEN at {where}{verdict.problem}", file=sys.stderr)
    return 1
