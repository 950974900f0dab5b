"""Plays systemd's side of `Type=notify`: a datagram socket in NOTIFY_SOCKET, the service started
with it, and READY=1 / WATCHDOG=1 collected. Used as upgrade.sh's --ready-cmd in the tests too:
  python notify_listener.py --timeout S -- COMMAND...   exits 0 once COMMAND sent READY=1
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Notifications:
    messages: list[tuple[float, str]] = field(default_factory=list)

    def times_of(self, line: str) -> list[float]:
        return [at for at, message in self.messages if line in message.split("\n")]

    @property
    def ready(self) -> bool:
        return bool(self.times_of("READY=1"))


def run_until_ready(command: list[str], timeout: float, watch_after_ready: float = 0.0, watchdog_usec: int = 0, env: dict[str, str] | None = None) -> tuple[Notifications, int | None]:
    """Start `command` with a notify socket; return what it sent and its exit code (None while it
    was still running when we stopped it with SIGTERM)."""
    notes = Notifications()
    with tempfile.TemporaryDirectory() as scratch:
        address = str(Path(scratch) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(address)
            child_env = {**os.environ, **(env or {}), "NOTIFY_SOCKET": address}
            if watchdog_usec:
                child_env["WATCHDOG_USEC"] = str(watchdog_usec)
            child = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            try:
                while time.monotonic() < deadline and child.poll() is None:
                    readable, _, _ = select.select([sock], [], [], 0.05)
                    if readable:
                        notes.messages.append((time.monotonic(), sock.recv(4096).decode()))
                    if notes.ready:
                        deadline = min(deadline, notes.times_of("READY=1")[0] + watch_after_ready)
            finally:
                code = child.poll()
                if code is None:
                    child.send_signal(signal.SIGTERM)
                    try:
                        child.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                # What it sent while stopping (STOPPING=1).
                while select.select([sock], [], [], 0.05)[0]:
                    notes.messages.append((time.monotonic(), sock.recv(4096).decode()))
    return notes, code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    notes, _ = run_until_ready(command, args.timeout)
    return 0 if notes.ready else 1


if __name__ == "__main__":
    sys.exit(main())
