"""The voice part's speaker with another transport's sites joined (SiteAudio.speak_through):
each reply goes to the transport that took its site, every other to the voice part's own, and
no site can be taken twice."""

from __future__ import annotations

import pytest

from gateway.hermes.tts import SayOutcome, TtsSay
from gateway.voice.speech import SiteRoutedSpeaker


class _Recorder:
    def __init__(self, outcome: SayOutcome) -> None:
        self.outcome = outcome
        self.sites: list[str] = []

    async def speak(self, say: TtsSay) -> SayOutcome:
        self.sites.append(say.siteId)
        return self.outcome


async def test_replies_go_to_the_transport_of_their_site() -> None:
    hermes, wyoming = _Recorder(SayOutcome.PLAYED), _Recorder(SayOutcome.TIMEOUT)
    speaker = SiteRoutedSpeaker(hermes)
    speaker.route(["kitchen", "till"], wyoming)
    outcomes = [await speaker.speak(TtsSay(text="hello", id=str(n), siteId=site)) for n, site in enumerate(["till", "door", "kitchen"])]
    assert wyoming.sites == ["till", "kitchen"] and hermes.sites == ["door"]
    assert outcomes == [SayOutcome.TIMEOUT, SayOutcome.PLAYED, SayOutcome.TIMEOUT]


def test_a_site_is_taken_by_one_transport_only() -> None:
    first, second = _Recorder(SayOutcome.PLAYED), _Recorder(SayOutcome.PLAYED)
    speaker = SiteRoutedSpeaker(_Recorder(SayOutcome.PLAYED))
    speaker.route(["till"], first)
    with pytest.raises(ValueError, match="till"):
        speaker.route(["door", "till"], second)
