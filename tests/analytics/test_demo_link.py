"""`touchgate demo` serves the status page on loopback and prints a one-time login link; the
zone figures move while it runs."""

from __future__ import annotations

import asyncio
import re
import sys

import aiohttp

LINK = re.compile(r"status page: (http://127\.0\.0\.1:\d+)/login\?code=(\S+)")


async def test_demo_prints_a_one_time_link_to_the_moving_figures() -> None:
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "demo", "--duration", "40", "--broker", "mosquitto",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert demo.stdout is not None
    try:
        async with asyncio.timeout(60):
            while not (found := LINK.search((await demo.stdout.readline()).decode())):
                pass
        base, code = found.group(1), found.group(2)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(f"{base}/login?code={code}", allow_redirects=False) as response:
                assert response.status == 303 and response.headers["Location"] == "/"
            async with browser.get(base + "/") as response:
                assert response.status == 200 and 'id="zone-plots"' in await response.text()
            occupancy: list[float] = []
            async with asyncio.timeout(30):
                while len(set(occupancy)) < 3:  # the entrance's occupancy changes as shoppers come and go
                    async with browser.get(base + "/api/analytics/zones") as response:
                        assert response.status == 200
                        zones = {z["zone"]: z for z in (await response.json())["zones"]}
                    occupancy.append(zones["entrance"]["occupancy"])
                    await asyncio.sleep(1)
        async with aiohttp.ClientSession() as someone_else:
            async with someone_else.get(f"{base}/login?code={code}", allow_redirects=False) as response:
                assert response.status == 401  # the link works once
    finally:
        if demo.returncode is None:
            demo.terminate()
        await demo.wait()
