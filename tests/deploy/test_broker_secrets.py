"""deploy/broker.sh sets a broker password without it ever being on a command line: install.sh
hands it over in the environment and `mosquitto_passwd` hashes it from a private file. A shim in
front of the real mosquitto_passwd records every command line it is given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import stat
from pathlib import Path

from tests.deploy.support import DEPLOY, run

SECRET, NEW_SECRET = "install-made-Zq8vR2", "rotated-Kp4nW7"


def mosquitto_hash_matches(line: str, password: str) -> bool:
    """Mosquitto 2's `$7$` entries: PBKDF2-SHA512 with the iterations, salt and hash given."""
    _, kind, iterations, salt, digest = line.split("$")
    assert kind == "7"
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(derived, base64.b64decode(digest))


def test_account_password_from_the_environment_never_in_argv(tmp_path: Path) -> None:
    real = shutil.which("mosquitto_passwd")
    assert real is not None
    shims, seen = tmp_path / "bin", tmp_path / "argv.log"
    shims.mkdir()
    shim = shims / "mosquitto_passwd"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>"{seen}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    conf = tmp_path / "mosquitto"
    env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}

    run([DEPLOY / "broker.sh", "account", "gateway", "touchgate", "--conf-dir", conf], env={**env, "TOUCHGATE_BROKER_PASSWORD": SECRET})
    made = run([DEPLOY / "broker.sh", "account", "sensor", "shop1_cool", "--site", "shop1", "--conf-dir", conf], env=env)
    generated = made.stdout.split("password for shop1_cool: ")[1].strip()
    run([DEPLOY / "broker.sh", "account", "gateway", "touchgate", "--conf-dir", conf], env={**env, "TOUCHGATE_BROKER_PASSWORD": NEW_SECRET})

    calls = seen.read_text()
    assert calls.count("-U") == 3, calls  # the shim was used for every account
    assert SECRET not in calls and NEW_SECRET not in calls and generated not in calls
    entries = dict(line.split(":", 1) for line in (conf / "passwd").read_text().splitlines())
    assert sorted(entries) == ["shop1_cool", "touchgate"]  # the rotation replaced, not appended
    assert mosquitto_hash_matches(entries["touchgate"], NEW_SECRET) and not mosquitto_hash_matches(entries["touchgate"], SECRET)
    assert mosquitto_hash_matches(entries["shop1_cool"], generated)
    assert stat.S_IMODE((conf / "passwd").stat().st_mode) == 0o640
    assert not list(conf.glob(".passwd.*")), "no plain-text password file is left behind"
