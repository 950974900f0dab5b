"""The gateway as a separate process (for crash tests): start, wait until ready, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from tests.support.mosquitto import Mosquitto


def write_config(path: Path, broker: Mosquitto, db_path: Path, **extra: object) -> Path:
    config: dict[str, object] = {
        "site_id": "shop1",
        "mqtt": {"host": broker.host, "port": broker.port, "client_id": "touchgate-proc"},
        "store": {"path": str(db_path)},
    }
    config.update(extra)
    path.write_text(yaml.safe_dump(config))
    return path


class GatewayProcess:
    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self.lines: list[str] = []

    # An upper bound only (ready is a positive signal): on a loaded shared machine, or under `nice`
    # as the benchmarks run, loading the recognisers and warming Piper up took longer than 20 s.
    def start(self, timeout: float = 90) -> None:
        self._ready.clear()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        if not self._ready.wait(timeout):
            self.kill()
            raise RuntimeError("gateway did not become ready:\n" + "\n".join(self.lines[-30:]))

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip())
            if len(self.lines) > 2000:
                del self.lines[:1000]
            try:
                if json.loads(line).get("event") == "ready":
                    self._ready.set()
            except ValueError:
                pass

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code


def wait_for(predicate: object, timeout: float = 30, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)
