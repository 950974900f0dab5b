"""Plugs Wyoming into the gateway (`PART_BUILDERS`, after the voice and TTS parts): the server
when `wyoming.server.enabled`, a link per configured satellite, replies to those sites routed over
their links. All of Wyoming's wiring is here, so it can move to another plug-in mechanism whole."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.wyoming.check import wiring_problems
from gateway.wyoming.satellite import SatelliteLink
from gateway.wyoming.server import WyomingServer
from gateway.wyoming.speaker import SiteRoutedSpeaker
from gateway.wyoming.wake import WakePhraseError, wake_engine

if TYPE_CHECKING:
    from gateway.app import Runtime


def _problem(field: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(file="<settings>", field=field, message=message)])


async def build(runtime: Runtime) -> None:
    settings = runtime.settings.wyoming
    problems = wiring_problems(runtime.settings)
    if problems:
        raise ConfigError(problems)
    voice = runtime.voice
    assert voice is not None  # wiring_problems: Wyoming needs the voice part
    synthesiser = runtime.tts.synthesiser if runtime.tts is not None else None
    # Wake decoding and Home Assistant's transcriptions: a pool of their own, so a busy speaker
    # does not queue behind them (and they not behind it).
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wyoming")
    try:
        engine = await asyncio.get_running_loop().run_in_executor(pool, wake_engine, settings.wake) if settings.satellites else None
    except WakePhraseError as exc:
        pool.shutdown(wait=False)
        raise _problem("wyoming.wake.phrase", str(exc)) from exc
    links = {}
    for satellite in settings.satellites:
        assert engine is not None and synthesiser is not None  # wiring_problems: satellites need tts
        link = SatelliteLink(satellite, settings, voice, synthesiser, engine, pool)
        voice.on_turn.append(link.on_turn)
        links[satellite.site_id] = link
    if links:
        voice.speaker = SiteRoutedSpeaker(links, voice.speaker)
    server = WyomingServer(settings, voice, synthesiser, pool) if settings.server.enabled else None
    parts = WyomingParts(server, links)
    runtime.wyoming = parts  # type: ignore[attr-defined]  # a field of the Part's ports after issue 16
    runtime.tasks.append(_run(parts, pool))


class WyomingParts:
    """What tests and benchmarks look at: the server (its port) and the satellite links."""

    def __init__(self, server: WyomingServer | None, links: dict[str, SatelliteLink]) -> None:
        self.server = server
        self.links = links
        self.server_started = asyncio.Event()


async def _run(parts: WyomingParts, pool: ThreadPoolExecutor) -> None:
    try:
        async with asyncio.TaskGroup() as group:
            if parts.server is not None:
                group.create_task(parts.server.run(parts.server_started))
            for link in parts.links.values():
                group.create_task(link.run(), name=f"wyoming-{link.site_id}")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
