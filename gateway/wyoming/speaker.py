"""Replies to Wyoming sites go over their satellite link; every other site's to the speaker the
voice part chose (the TTS part's Hermes playBytes, or another Hermes TTS service)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.hermes.tts import SayOutcome, TtsSay
from gateway.voice.speech import ReplySpeaker
from gateway.wyoming.satellite import SatelliteLink


class SiteRoutedSpeaker:
    def __init__(self, links: Mapping[str, SatelliteLink], others: ReplySpeaker) -> None:
        self._links = links
        self._others = others

    async def speak(self, say: TtsSay) -> SayOutcome:
        link = self._links.get(say.siteId)
        if link is None:
            return await self._others.speak(say)
        return await link.speak(say)
