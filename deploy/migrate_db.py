"""Back up the gateway's database, then bring its schema to this release's version.

Run by upgrade.sh with the NEW release's Python (so the new migrations apply), while the service
is stopped:  python migrate_db.py --config /etc/touchgate/config.yaml --backup-dir DIR
Prints one JSON line: {"database", "backup", "from", "to"}. With --check-only it only loads the
config (a new release that cannot read the current config must not be switched to).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from gateway.config.problems import ConfigError
from gateway.config.settings import load_settings
from gateway.store.database import connect
from gateway.store.migrations import MIGRATIONS

BACKUPS_KEPT = 5


class MigrationReport(BaseModel):
    database: str
    backup: str | None
    from_version: int
    to_version: int


def database_path(config: Path, root: Path | None) -> Path:
    path = load_settings(config).store.path
    # A staged installation (install.sh --root) keeps the real absolute paths in its config
    # (unless the environment already points into the staging root).
    if root is not None and path.is_absolute() and not path.is_relative_to(root):
        return root / path.relative_to("/")
    return path


def schema_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def backup(path: Path, backup_dir: Path, version: int) -> Path:
    """A consistent copy through SQLite's online backup (the WAL included), not a file copy."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / f"{path.stem}-v{version}-{time.strftime('%Y%m%dT%H%M%S')}.db"
    source = sqlite3.connect(path)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()
    for old in sorted(backup_dir.glob(f"{path.stem}-v*.db"))[:-BACKUPS_KEPT]:
        old.unlink()
    return target


def migrate(path: Path, backup_dir: Path) -> MigrationReport:
    if not path.exists():
        # First start of a fresh installation: the gateway creates the newest schema itself.
        return MigrationReport(database=str(path), backup=None, from_version=0, to_version=len(MIGRATIONS))
    before = schema_version(path)
    saved = backup(path, backup_dir, before)
    db = connect(path)  # runs the migrations, each in its own transaction
    db.conn.close()
    return MigrationReport(database=str(path), backup=str(saved), from_version=before, to_version=schema_version(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--backup-dir", type=Path, required=True)
    parser.add_argument("--root", type=Path, default=None, help="staging root of install.sh --root")
    parser.add_argument("--check-only", action="store_true")
    args = parser.parse_args(argv)
    try:
        path = database_path(args.config, args.root)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    if args.check_only:
        return 0
    print(json.dumps(migrate(path, args.backup_dir).model_dump()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
