"""schemathesis, driven by the OpenAPI document, against the real server: no server error, every
answer as documented (status, content type, body schema), auth enforced where declared."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import TOKEN, ApiHarness, sample_messages, started_api
from tests.support.mosquitto import Mosquitto

OPERATIONS = 18


async def test_schemathesis_finds_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    # Its auth checks send wrong tokens from one address: unthrottled here, so the fuzzing that
    # follows reaches the handlers (the throttle has its own tests: tests/api/test_sessions.py).
    async with started_api(broker, tmp_path, login_failures_per_client=1000, login_failures_global=100_000) as api:
        await _schemathesis_finds_nothing(api, tmp_path)


async def _schemathesis_finds_nothing(api: ApiHarness, tmp_path: Path) -> None:
    # Data in every table the API reads, so responses are not all empty lists.
    await api.publish(sample_messages() + [("milesight/shop1/24E124716C123456/uplink", "not json")])
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", api.url + "/openapi.yaml",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", "25",
        "--seed", "7",
        "--workers", "1",
        "--request-timeout", "10",
        "--generation-database", "none",
        "--no-color",
        "--report", "junit",
        "--report-dir", str(tmp_path / "report"),
    ]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert f"Tested: {OPERATIONS}" in output, output[-3000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated and int(generated.group(1)) >= 200 and generated.group(1) == generated.group(2), output[-3000:]
    # The gateway is still healthy afterwards (fuzzing did not wedge it).
    assert (await api.get_json("/readyz"))["ready"] is True
