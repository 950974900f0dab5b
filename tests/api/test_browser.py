"""The status page in a real headless Chromium (Debian's `chromium`, driven by Playwright): log in
with the token, check the numbers against the API, watch them update live, save a screenshot."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from tests.api.conftest import TOKEN, ApiHarness, sample_messages
from tests.support.gateway import wait_until
from tests.voice.support import HermesClient, frames, utterances

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ENTRANCE_CARD = ("tele/cardreader_entrance/SENSOR", json.dumps({"PN532": {"UID": "0A0B0C0D", "DATA": ""}}))
BAD_TOPIC = "milesight/shop1/24E124716C123456/uplink"
HOURS = next(u for u in utterances("en") if u.name == "en_hours_1")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    # Installed by scripts/debian-packages.txt; Playwright never downloads a browser here.
    assert shutil.which(CHROMIUM), "Debian's chromium is missing: run `make system` (scripts/debian-packages.txt)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def text_of(page: Page, element_id: str) -> str:
    return (await page.inner_text(f"#{element_id}")).strip()


async def column(page: Page, tbody_id: str, index: int) -> list[str]:
    cells = await page.locator(f"#{tbody_id} tr td:nth-child({index})").all_inner_texts()
    return [c.strip() for c in cells]


async def test_status_page_in_chromium(api: ApiHarness, browser: Browser, tmp_path: Path) -> None:
    await api.publish(sample_messages() + [ENTRANCE_CARD, (BAD_TOPIC, "<not json>")])
    # The real rules engine: a card tap at the entrance fires the anonymous welcome.
    await wait_until(lambda: any(f.rule == "welcome-anyone" for f in api.runtime.metrics.rule_firings))
    # A real voice turn: a recorded utterance over Hermes, recognised by PocketSphinx; the voice
    # part reports it (text and intent, never audio).
    speaker = HermesClient(api.broker.host, api.broker.port, client_id="page-speaker")
    try:
        session = await asyncio.to_thread(speaker.start_session, "kiosk1")
        await asyncio.to_thread(speaker.stream, "kiosk1", frames(HOURS.pcm()))
        await asyncio.to_thread(speaker.json_on, "hermes/dialogueManager/sessionEnded", 20.0, sessionId=session)
    finally:
        speaker.close()
    await wait_until(lambda: len(api.runtime.metrics.voice_turns) == 1)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    await page.goto(api.url + "/")
    assert await page.locator("#token").is_visible()
    assert await page.locator("#outbox-depth").count() == 0
    await page.fill("#token", "this-is-not-the-token")
    await page.click("#login")
    assert "not right" in await text_of(page, "login-error")
    assert problems == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    problems.clear()  # that 401 was the refused login; from here on nothing may fail
    await page.fill("#token", TOKEN)
    await page.click("#login")
    await page.wait_for_selector("#outbox-depth")

    status = await api.get_json("/api/status")
    assert await text_of(page, "events-total") == str(status["events"]["total"])
    assert await text_of(page, "events-per-minute") == str(status["events"]["per_minute"])
    assert await text_of(page, "outbox-depth") == str(status["outbox"]["depth"])
    assert await text_of(page, "dead-letters-total") == str(status["dead_letters"]["total"]) == "1"
    assert await text_of(page, "devices-seen") == str(status["devices_seen"])
    assert await text_of(page, "broker") == "connected"
    assert await column(page, "devices", 2) == [d["device"] for d in status["devices"]]
    assert await column(page, "devices", 5) == [str(d["messages"]) for d in status["devices"]]
    assert await column(page, "voice-turns", 2) == ["kiosk1"]
    assert await column(page, "voice-turns", 3) == [HOURS.text] == [t["text"] for t in status["recent_voice_turns"]]
    assert await column(page, "voice-turns", 4) == [HOURS.intent]
    assert "welcome-anyone" in await column(page, "rule-firings", 2)
    assert await column(page, "dead-letters", 2) == [BAD_TOPIC]

    # Live: new events appear without a reload (the page re-reads /api/status every second).
    await api.publish([(BAD_TOPIC, '{"line_1_period_in": 1, "line_1_period_out": 0, "line_1_total_in": 1600, "line_1_total_out": 1500}')] * 3)
    expected = status["events"]["total"] + 3
    # (a locator assertion, not wait_for_function: the page's CSP rightly forbids eval)
    await expect(page.locator("#events-total")).to_have_text(str(expected), timeout=10_000)
    fresh = await api.get_json("/api/status")
    assert fresh["events"]["total"] == expected
    assert await text_of(page, "outbox-depth") == str(fresh["outbox"]["depth"])

    screenshot = tmp_path / "status-page.png"
    await page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert problems == [], problems  # no script error, no CSP violation

    # Logging out ends the session: the page asks for the token again.
    await page.click("#logout")
    await page.wait_for_selector("#token")
