"""`python -m profile_service` / `touchgate-profile-service`: run the reference profile service."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from profile_service.launch import running_profile_service
from profile_service.seed import SeedError, load_seed
from profile_service.settings import ServiceSettings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="touchgate-profile-service", description="Reference central profile service")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--db", type=Path, dest="db_path")
    parser.add_argument(
        "--database-url", help="postgresql://… without a password: PostgreSQL instead of the SQLite --db (one with a password: PROFILE_SERVICE_DATABASE_URL)"
    )
    parser.add_argument("--reuse-port", action="store_true", default=None, help="share the port with other workers")
    parser.add_argument("--event-retention-days", type=int)
    parser.add_argument("--seed", type=Path, dest="seed_file", help="JSON seed file, applied to a new database")
    # Refused, with the way that works: a secret on the command line is readable by every user (ps).
    parser.add_argument("--site-token", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--admin-token", help=argparse.SUPPRESS)
    parser.add_argument("--tls-cert", type=Path, dest="tls_cert_file")
    parser.add_argument("--tls-key", type=Path, dest="tls_key_file")
    parser.add_argument("--known-customers-only", action="store_true", default=None)
    parser.add_argument("--check-seed", type=Path, help="validate a seed file and exit")
    return parser.parse_args(argv)


SECRETS_IN_ARGV = (
    "{flag} would put a secret on the command line, where every user on the machine can read it (ps);"
    " set {variable} in the environment instead (systemd: EnvironmentFile=), e.g. {example}"
)


def refuse_secrets_in_argv(args: argparse.Namespace) -> None:
    if args.site_token:
        raise SystemExit(SECRETS_IN_ARGV.format(
            flag="--site-token", variable="PROFILE_SERVICE_SITE_TOKENS", example="PROFILE_SERVICE_SITE_TOKENS='{\"shop1\": \"…\"}'"
        ))
    if args.admin_token:
        raise SystemExit(SECRETS_IN_ARGV.format(
            flag="--admin-token", variable="PROFILE_SERVICE_ADMIN_TOKEN", example="PROFILE_SERVICE_ADMIN_TOKEN=…"
        ))
    if args.database_url and urlsplit(args.database_url).password:
        raise SystemExit(SECRETS_IN_ARGV.format(
            flag="--database-url with a password", variable="PROFILE_SERVICE_DATABASE_URL",
            example="PROFILE_SERVICE_DATABASE_URL=postgresql://user:…@host/db (or a ~/.pgpass file)",
        ))


def settings_from(args: argparse.Namespace) -> ServiceSettings:
    refuse_secrets_in_argv(args)
    values: dict[str, Any] = {
        k: v
        for k, v in vars(args).items()
        if v is not None and k not in {"site_token", "admin_token", "check_seed"}
    }
    return ServiceSettings(**values)


async def serve(settings: ServiceSettings) -> None:
    async with running_profile_service(settings) as url:
        print(json.dumps({"event": "listening", "url": url}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.check_seed is not None:
        try:
            seed = load_seed(args.check_seed)
        except SeedError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{args.check_seed}: {len(seed.customers)} customers OK")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        settings = settings_from(args)
        if settings.seed_file is not None:
            load_seed(settings.seed_file)  # fail at start, with the file and field, not later
    except (ValidationError, SeedError) as exc:
        print(f"profile service: {exc}", file=sys.stderr)
        return 1
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
