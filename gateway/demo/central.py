"""The reference central profile service, started for the demo as its own process.

The gateway never imports `profile_service` (it is another program); it is run with
`python -m profile_service`, exactly as an operator would run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from gateway.config.settings import PROJECT_ROOT
from gateway.processes import reap
from gateway.waiting import within

DEMO_SEED = PROJECT_ROOT / "profile_service" / "demo_seed.json"


@dataclass(frozen=True)
class CentralService:
    url: str
    token: str


@contextlib.asynccontextmanager
async def demo_central_service(site: str, data_dir: Path) -> AsyncIterator[CentralService]:
    token = secrets.token_urlsafe(24)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "profile_service",
        "--host", "127.0.0.1", "--port", "0",
        "--db", str(data_dir / "central.db"),
        "--seed", str(DEMO_SEED),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        # The site's token in the environment, never on the command line (ps shows that to anyone).
        env={**os.environ, "PROFILE_SERVICE_SITE_TOKENS": json.dumps({site: token})},
    )  # fmt: skip
    try:
        url = await within(_listening_url(proc), 30)
        drain = asyncio.create_task(_discard(proc))
        try:
            yield CentralService(url, token)
        finally:
            drain.cancel()
            await asyncio.wait([drain])  # it must stop reading before reap() reads the rest
    finally:
        if proc.returncode is None:
            await reap(proc, signal.SIGTERM)


async def _listening_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    output: list[str] = []
    while line := await proc.stdout.readline():
        text = line.decode(errors="replace").strip()
        output.append(text)
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(text)
            if message.get("event") == "listening":
                return str(message["url"])
    raise RuntimeError("the profile service did not start:\n" + "\n".join(output[-20:]))


async def _discard(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdout is not None
    while await proc.stdout.readline():
        pass
