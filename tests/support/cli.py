"""Running `touchgate …` as a child process, with standard error on a pipe (as in a log or a
pipeline) or on a pseudo-terminal (as an operator at a shell sees it: progress bars drawn)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass
from pathlib import Path

TERMINAL_COLUMNS = 120


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str


def run_touchgate(args: list[str], *, cwd: Path | None = None, terminal: bool = False, timeout: float = 60) -> CliRun:
    command = [sys.executable, "-m", "gateway.cli", *args]
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)
        return CliRun(done.returncode, done.stdout, done.stderr)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, TERMINAL_COLUMNS, 0, 0))
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, cwd=cwd)
    finally:
        os.close(slave)  # the child holds it now: the master reads EOF/EIO once the child is gone
    chunks: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(10)
        os.close(master)
    return CliRun(process.returncode, stdout.decode("utf-8", "replace"), b"".join(chunks).decode("utf-8", "replace"))
