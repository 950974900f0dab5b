"""systemd's side of a unit, played in a chroot where systemd does not run: a unit's ExecStart
started with its user, group, environment files, working directory, umask and state directory,
and for Type=notify a NOTIFY_SOCKET (with WATCHDOG_USEC) whose READY=1 it waits for."""

from __future__ import annotations

import os
import pwd
import secrets
import select
import shlex
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from smoke_support import START_TIMEOUT_S, SmokeFailure, check, ok, wait_for

@dataclass
class Unit:
    """The [Service] settings of a unit file that decide how its process starts."""

    path: Path
    settings: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Unit:
        unit = cls(path)
        section = ""
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                unit.settings.setdefault(key.strip(), []).append(value.strip())
        return unit

    def one(self, key: str, default: str | None = None) -> str | None:
        values = self.settings.get(key)
        return values[-1] if values else default


def environment_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    notes: list[str]
    log: Path

    def notified(self, line: str) -> bool:
        return any(line in note.split("\n") for note in list(self.notes))


def command_line(value: str) -> list[str]:
    # systemd prefixes: "-" (failure ignored), "@", "+", "!" (privileges): none change what runs here.
    return shlex.split(value.lstrip("-@+!:"))


@contextmanager
def started_like_systemd(unit_path: Path, name: str, logs: Path) -> Iterator[Service]:
    """Start a unit's ExecStart as systemd would (Type=notify: wait for READY=1) and stop it with
    SIGTERM on leaving. Sandboxing (ProtectSystem=, PrivateTmp=, ...) needs systemd itself and is
    not reproduced; systemd-analyze verify checks those lines."""
    unit = Unit.read(unit_path)
    user = unit.one("User")
    group = unit.one("Group", user)
    account = pwd.getpwnam(user) if user else None
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "INVOCATION_ID": secrets.token_hex(16)}
    if account is not None:
        env |= {"USER": account.pw_name, "LOGNAME": account.pw_name, "HOME": account.pw_dir, "SHELL": account.pw_shell}
    for item in unit.settings.get("EnvironmentFile", []):
        optional, file = item.startswith("-"), Path(item.lstrip("-"))
        if file.exists():
            env |= environment_file(file)
        elif not optional:
            raise SmokeFailure(f"{unit_path}: EnvironmentFile {file} is missing")
    for item in unit.settings.get("Environment", []):
        for pair in shlex.split(item):
            key, _, value = pair.partition("=")
            env[key] = value
    for state in (unit.one("StateDirectory") or "").split():
        directory = Path("/var/lib") / state
        directory.mkdir(parents=True, exist_ok=True)
        if account is not None:
            os.chown(directory, account.pw_uid, account.pw_gid)
        directory.chmod(int(unit.one("StateDirectoryMode", "0755") or "0755", 8))
    for pre in unit.settings.get("ExecStartPre", []):
        subprocess.run(command_line(pre), check=not pre.startswith("-"), env=env)
    notify = unit.one("Type") == "notify"
    scratch = Path(f"/run/smoke-notify-{name}")
    scratch.mkdir(parents=True, exist_ok=True)
    address = str(scratch / "notify")
    notes: list[str] = []
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    os.chmod(address, 0o777)  # the service user must be able to send to it
    if notify:
        env["NOTIFY_SOCKET"] = address
        watchdog = unit.one("WatchdogSec")
        if watchdog:
            env["WATCHDOG_USEC"] = str(int(float(watchdog.rstrip("s")) * 1_000_000))
    stop_reading = threading.Event()

    def read_notes() -> None:
        while not stop_reading.is_set():
            if select.select([sock], [], [], 0.2)[0]:
                notes.append(sock.recv(4096).decode(errors="replace"))

    reader = threading.Thread(target=read_notes, daemon=True)
    reader.start()
    log = logs / f"{name}.log"
    umask = int(unit.one("UMask", "0022") or "0022", 8)
    exec_start = command_line(unit.one("ExecStart") or "")
    # WATCHDOG_PID is the main process's own pid, known only once it runs: a shell sets it and execs.
    command = ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', "sh", *exec_start] if "WATCHDOG_USEC" in env else exec_start
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=unit.one("WorkingDirectory", "/"), stdout=out, stderr=subprocess.STDOUT,
            user=account.pw_uid if account else None, group=group, extra_groups=[] if account else None, umask=umask,
        )
    service = Service(name, process, notes, log)
    try:
        if notify:
            wait_for(f"{name}: READY=1 (log: {log})", lambda: service.notified("READY=1") or process.poll() is not None,
                     timeout=START_TIMEOUT_S, every=0.2)
            check(process.poll() is None, f"{name} exited with {process.returncode} before READY=1:\n{log.read_text()[-3000:]}")
        ok(f"{name} started as the unit does ({shlex.join(exec_start)}, user {user or 'root'}" + (", READY=1" if notify else "") + ")")
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        stop_reading.set()
        reader.join()
        sock.close()
