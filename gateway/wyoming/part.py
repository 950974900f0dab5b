"""The Wyoming part: the server when `wyoming.server.enabled`, a link per configured satellite.

It requires the voice part's dialogue core (SITE_AUDIO: satellites' wakes, audio and replies) and
speech services (SPEECH_SERVICES: Home Assistant's transcribe, recognise and handle), and uses the
TTS part's synthesiser (SYNTHESISER) when offered: satellites need it (`check` refuses them
without `tts.enabled`), the server offers text-to-speech only with it. It offers no port.
Satellite sites are spoken to over their links (`SiteAudio.speak_through`).

The module is cheap to import: the `wyoming` library and PocketSphinx are imported by `build`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.part import Built, Core, PartBase
from gateway.ports import SITE_AUDIO, SPEECH_SERVICES, SYNTHESISER, Ports

if TYPE_CHECKING:
    from gateway.config.settings import Settings
    from gateway.wyoming.satellite import SatelliteLink
    from gateway.wyoming.server import WyomingServer


class WyomingPart(PartBase):
    name = "wyoming"
    section = "wyoming"
    requires = (SITE_AUDIO, SPEECH_SERVICES)
    uses = (SYNTHESISER,)

    def check(self, settings: Settings) -> list[ConfigProblem]:
        from gateway.wyoming.check import check_wyoming

        return check_wyoming(settings)

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.wyoming.check import wiring_problems
        from gateway.wyoming.satellite import SatelliteLink
        from gateway.wyoming.server import WyomingServer
        from gateway.wyoming.wake import WakePhraseError, wake_model

        settings = core.settings.wyoming
        problems = wiring_problems(core.settings)
        if problems:
            raise ConfigError(problems)
        site_audio = ports.require(SITE_AUDIO)
        synthesiser = ports.optional(SYNTHESISER)
        # Wake decoding and Home Assistant's transcriptions: a pool of their own, so a busy speaker
        # does not queue behind them (and they not behind it).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wyoming")
        links: dict[str, SatelliteLink] = {}
        try:
            if settings.satellites:
                if synthesiser is None:  # wiring_problems: satellites need the TTS part
                    raise ConfigError([ConfigProblem(file="<settings>", field="wyoming.satellites", message="satellites need tts.enabled")])
                try:
                    engine = await asyncio.get_running_loop().run_in_executor(pool, wake_model, settings.wake)
                except WakePhraseError as exc:
                    raise ConfigError([ConfigProblem(file="<settings>", field="wyoming.wake.phrase", message=str(exc))]) from exc
                for satellite in settings.satellites:
                    link = SatelliteLink(satellite, settings, site_audio, synthesiser, engine, pool)
                    site_audio.on_transcript(link.on_transcript)
                    links[satellite.site_id] = link
                for site_id, link in links.items():
                    site_audio.speak_through([site_id], link)
        except BaseException:
            pool.shutdown(wait=False)
            raise
        server = WyomingServer(settings, ports.require(SPEECH_SERVICES), synthesiser, pool) if settings.server.enabled else None
        parts = WyomingParts(server, links)
        return Built(tasks=[_run(parts, pool)], service=parts)


PART = WyomingPart()


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
