"""The zone figures on the admin API, in Prometheus and as plots on the status page (real
gateway, real Mosquitto, Debian's chromium through Playwright, with a screenshot check)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
from playwright.async_api import Browser

from gateway.analytics.anonymous import DailyHasher, OwnBeacons
from gateway.analytics.core import AnalyticsCore, CoreConfig
from gateway.analytics.settings import ZoneRole
from gateway.analytics.simulator import ROLES, STAFF_BEACON_UUID, ZONES, DayPlan, simulate_day
from gateway.store.analytics_rows import write_figures
from gateway.rules.index import Zones
from tests.api.conftest import TOKEN, ApiHarness, started_api
from tests.api.test_browser import browser  # noqa: F401 - the fixture
from tests.support.gateway import wait_until
from tests.support.mosquitto import Mosquitto

ANALYTICS = {"analytics": {"zones": {"entrance": {"role": "entrance"}, "checkout": {"role": "checkout"}}}}


def counter(device: str, period_in: int, period_out: int) -> tuple[str, str]:
    return f"milesight/shop1/{device}/uplink", json.dumps({"line_1_period_in": period_in, "line_1_period_out": period_out})


async def seed_last_hours(api: ApiHarness) -> int:
    """A simulated shop's morning, through the real core, ending now: its minute series and hours
    are written as the running part writes them."""
    now = time.time()
    day_start = now - 12 * 3600  # opens at 8:00 of that day: the last 3 hours are busy
    events, _ = simulate_day(day_start, DayPlan(visitors=1500, closes_h=12.0))
    core = AnalyticsCore(Zones(ZONES).of, {z: ZoneRole(r) for z, r in ROLES.items()}, DailyHasher(b"s" * 32), CoreConfig(timezone="UTC"), OwnBeacons([STAFF_BEACON_UUID]), start=day_start)
    core.observe_all(e for e in events if e.received_at < now)
    core.advance(now)
    series = [p for p in core.take_series() if p.zone in ("entrance", "checkout")]
    hours = [t for t in core.take_closed() if t.zone in ("entrance", "checkout")]
    await api.runtime.store.call(lambda db: write_figures(db, hours, series, 0, 0))
    return len(series)


async def test_zone_figures_on_the_api_and_in_prometheus(broker: Mosquitto, tmp_path: Path) -> None:
    # The hour the live counters fall in, taken before they are published: if the clock passes the
    # hour during the test, that hour closes with the live entrances and no sale (rate 0).
    live_hour = time.time() // 3600 * 3600
    async with started_api(broker, tmp_path, ANALYTICS) as api:
        await api.publish([counter("entrance-counter", 9, 2), counter("checkout-counter", 6, 0)])
        live = await api.get_json("/api/analytics/zones")
        by_zone = {z["zone"]: z for z in live["zones"]}
        assert by_zone["entrance"]["occupancy"] == 7 and by_zone["entrance"]["role"] == "entrance"
        assert by_zone["checkout"]["queue_length"] == 6
        assert {"coffee_shelf", "fitting_rooms"} <= set(by_zone)  # the rules' zones, no data yet
        await seed_last_hours(api)
        series = await api.get_json("/api/analytics/series", params={"hours": "3", "zone": "checkout"})
        (checkout,) = series["zones"]
        assert len(checkout["minutes"]) >= 170 and max(checkout["queue"]) > 0
        hours = await api.get_json("/api/analytics/hours", params={"hours": "12"})
        # The seeded closed hours; the current one holds the live counter's 9 entrances and no sale
        # once the running part has flushed it (rate 0).
        closed = sorted((c["hour"], c["rate"]) for c in hours["conversion"] if c["rate"] is not None and c["hour"] < live_hour)
        # The opening hour is partial (the simulated day opens at this minute of the clock): a few
        # entrances before the first sale make its rate 0, legitimately. The full hours after it count.
        rates = [rate for _, rate in closed[1:]]
        assert rates and all(0 < r <= 1.5 for r in rates)
        await api.get_json("/api/analytics/series", 400, params={"zone": "no such/zone"})
        async with api.http.get(api.url + "/metrics") as response:
            text = await response.text()
        assert 'touchgate_zone_figure{figure="queue_length",zone="checkout"} 6.0' in text
    async with started_api(broker, tmp_path / "off", {"analytics": {"enabled": False}}) as api:
        problem = await api.get_json("/api/analytics/zones", 503)
        assert "analytics.enabled: false" in problem["detail"]


async def test_status_page_plots_occupancy_and_queue(broker: Mosquitto, tmp_path: Path, browser: Browser) -> None:  # noqa: F811
    async with started_api(broker, tmp_path, ANALYTICS) as api:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(api.url + "/")
        await page.fill("#token", TOKEN)
        await page.click("#login")
        # Drawn (nothing stored yet). A selector, not wait_for_function: its polling evaluates a
        # string, which the page's CSP rightly refuses (it failed whenever the first poll missed).
        await page.wait_for_selector("body[data-plotted]", state="attached")
        empty = await page.locator("#zone-plots").screenshot()
        points = await seed_last_hours(api)
        await page.reload()
        await page.wait_for_selector("svg.zone-plot[data-zone=checkout] polyline.queue")
        drawn = await page.locator("svg.zone-plot[data-zone=checkout] polyline.occupancy").get_attribute("points")
        assert drawn is not None and len(drawn.split()) >= 2 * 170 - 1  # a step per minute of 3 hours
        assert points > 0 and problems == []
        shot = tmp_path / "zone-plots.png"
        await page.locator("#zone-plots").screenshot(path=str(shot))
        assert shot.stat().st_size > len(empty) + 5_000  # lines drawn, not an empty frame
        assert shot.read_bytes() != empty
        async with aiohttp.ClientSession() as anon:  # the series needs the login, like the page
            async with anon.get(api.url + "/api/analytics/series") as response:
                assert response.status == 401
