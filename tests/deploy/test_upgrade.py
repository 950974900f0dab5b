"""Schema migration of an old database, and upgrade.sh on a staged installation: backup,
migration by the new release, switch, readiness (a real `touchgate run` under a notify socket),
and rollback when the new release does not become ready."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.store import migrations
from gateway.store.migrations import MIGRATIONS
from tests.deploy.support import DEPLOY, PYTHON, build_wheel, copy_source, install, run, staged_env
from tests.support.mosquitto import Mosquitto

NOTIFY_LISTENER = Path(__file__).with_name("notify_listener.py")
PROBE_MIGRATION = "\n# Added by tests/deploy/test_upgrade.py: the new release changes the schema.\nMIGRATIONS.append(\"ALTER TABLE state ADD COLUMN upgrade_probe TEXT DEFAULT 'new';\")\n"


def make_v1_database(path: Path) -> None:
    """A database exactly as schema v1 left it, with data in the tables that matter."""
    conn = sqlite3.connect(path, isolation_level=None)
    first = MIGRATIONS[0]
    assert isinstance(first, str)
    for statement in migrations._statements(first):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO events VALUES ('0190-a', 1.0, NULL, 'shop1', 'door-1', 'door', 'analytics', 'cust-1', 'shelly-dw2', 'shellies/door-1/sensor/state', '{\"closed\": true}')"
    )
    conn.execute("INSERT INTO outbox (event_id, enqueued_at, customer_id, purpose, body, bytes) VALUES ('0190-a', 1.0, 'cust-1', 'analytics', '{}', 2)")
    conn.execute("INSERT INTO consents VALUES ('cust-1', 'analytics', 'granted', 1.0, 'app', NULL)")
    conn.execute("INSERT INTO dead_letters (received_at, topic, reason, detail, raw, raw_size) VALUES (1.0, 't', 'bad_json', 'x', X'00', 1)")
    conn.execute("INSERT INTO state VALUES ('sync.cursor', 'c-42')")
    conn.close()


def test_v1_database_is_backed_up_and_migrated_to_the_current_schema(tmp_path: Path) -> None:
    database = tmp_path / "touchgate.db"
    make_v1_database(database)
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  path: {database}\n")
    result = run([PYTHON, DEPLOY / "migrate_db.py", "--config", config, "--backup-dir", tmp_path / "backups"])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["from_version"], report["to_version"]) == (1, len(MIGRATIONS))

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("SELECT id, customer_id, attributes FROM events").fetchall() == [("0190-a", "cust-1", '{"closed": true}')]
        assert conn.execute("SELECT event_id, body FROM outbox").fetchall() == [("0190-a", "{}")]
        assert conn.execute("SELECT customer_id, purpose, status FROM consents").fetchall() == [("cust-1", "analytics", "granted")]
        assert conn.execute("SELECT reason, raw FROM dead_letters").fetchall() == [("bad_json", b"\x00")]
        assert conn.execute("SELECT value FROM state WHERE key = 'sync.cursor'").fetchone() == ("c-42",)
    # The backup is the database as it was before, still at v1.
    backup = Path(report["backup"])
    assert backup.parent == tmp_path / "backups" and "-v1-" in backup.name
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_a_config_the_new_release_cannot_read_stops_the_migration(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("store:\n  pathh: /nowhere\n")
    result = run([PYTHON, DEPLOY / "migrate_db.py", "--config", config, "--backup-dir", tmp_path, "--check-only"], check=False)
    assert result.returncode == 1
    assert "pathh" in result.stderr and "config.yaml" in result.stderr


@pytest.fixture(scope="module")
def new_release_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The next release's source tree (a schema change, a new version) and its wheel."""
    source = copy_source(tmp_path_factory.mktemp("next") / "touchgate")
    pyproject = source / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.1.1"', 1))
    with (source / "gateway/store/migrations.py").open("a") as f:
        f.write(PROBE_MIGRATION)
    wheel = build_wheel(source, tmp_path_factory.mktemp("next-wheel"))
    assert "0.1.1" in wheel.name
    return source, wheel


def installed_with_data(root: Path, wheel: Path) -> int:
    """Install the current release and give it a database (made by the installed code)."""
    install(root, wheel)
    python = root / "opt/touchgate/current/venv/bin/python"
    script = (
        "import sys; from pathlib import Path; from gateway.store.database import connect; "
        "db = connect(Path(sys.argv[1])); db.conn.execute(\"INSERT INTO state VALUES ('sync.cursor', 'c-7')\"); "
        "print(db.conn.execute('PRAGMA user_version').fetchone()[0]); db.conn.close()"
    )
    result = run([python, "-c", script, root / "var/lib/touchgate/touchgate.db"], env=staged_env(root))
    return int(result.stdout.strip())


def upgrade(root: Path, source: Path, wheel: Path, ready_cmd: str, broker_port: int) -> subprocess.CompletedProcess[str]:
    env = staged_env(root, TOUCHGATE_MQTT__PORT=str(broker_port), TOUCHGATE_MQTT__CLIENT_ID=f"upgrade-{broker_port}")
    return run(
        [source / "deploy/upgrade.sh", "--root", root, "--wheel", wheel, "--no-deps", "--python", PYTHON, "--ready-cmd", ready_cmd],
        env=env,
        check=False,
        timeout=300,
    )


def ready_command(root: Path, timeout: float) -> str:
    touchgate = root / "opt/touchgate/current/venv/bin/touchgate"
    config = root / "etc/touchgate/config.yaml"
    return f"{sys.executable} {NOTIFY_LISTENER} --timeout {timeout} -- {touchgate} run --config {config}"


def state_rows(database: Path) -> tuple[int, list[tuple[str, str]]]:
    with sqlite3.connect(database) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0], conn.execute("SELECT key, value FROM state WHERE key = 'sync.cursor'").fetchall()


def test_upgrade_migrates_switches_and_waits_for_ready(tmp_path: Path, project_wheel: Path, new_release_wheel: tuple[Path, Path], broker: Mosquitto) -> None:
    root = tmp_path / "root"
    old_version = installed_with_data(root, project_wheel)
    old_release = (root / "opt/touchgate/current").readlink()
    source, wheel = new_release_wheel

    result = upgrade(root, source, wheel, ready_command(root, 60), broker.port)
    assert result.returncode == 0, result.stderr + result.stdout

    new_release = (root / "opt/touchgate/current").readlink()
    assert new_release != old_release and new_release.name.startswith("0.1.1-")
    database = root / "var/lib/touchgate/touchgate.db"
    assert state_rows(database) == (old_version + 1, [("sync.cursor", "c-7")])
    backups = list((root / "var/lib/touchgate/backups").glob("touchgate-v*.db"))
    assert [b.name.split("-")[1] for b in backups] == [f"v{old_version}"]
    assert (root / "opt/touchgate/releases" / old_release.name).exists()  # kept for a manual rollback


def test_upgrade_rolls_back_when_the_new_release_never_becomes_ready(tmp_path: Path, project_wheel: Path, new_release_wheel: tuple[Path, Path]) -> None:
    root = tmp_path / "root"
    old_version = installed_with_data(root, project_wheel)
    old_release = (root / "opt/touchgate/current").readlink()
    source, wheel = new_release_wheel
    # The broker is not there: the new release starts but never gets READY=1 out.
    closed_port = Mosquitto(tmp_path / "absent").port

    result = upgrade(root, source, wheel, ready_command(root, 3), closed_port)
    assert result.returncode != 0
    assert "rolled back" in result.stderr
    assert (root / "opt/touchgate/current").readlink() == old_release
    # The old release gets its own schema back (it would refuse the newer one), data intact.
    database = root / "var/lib/touchgate/touchgate.db"
    assert state_rows(database) == (old_version, [("sync.cursor", "c-7")])
    assert not Path(f"{database}-wal").exists() or Path(f"{database}-wal").stat().st_size == 0
