"""A simulated Rhasspy satellite for `touchgate demo`: it plays the committed test utterances over
Hermes in real time (startSession, then WAV audio frames) and prints what the gateway heard,
which intent it found and how the session ended; the reply itself arrives on hermes/tts/say.

Wiring (in the demo runner): `speaker = DemoSpeaker(client.publish, site, console.line)`,
`speaker.attach(client)` before the client runs, then run `speaker.run()` as a task.
"""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import Callable
from pathlib import Path

from gateway.hermes import topics
from gateway.hermes.audioserver import AudioFrame
from gateway.model.inbound import InboundMessage
from gateway.mqtt import MqttClient
from gateway.voice.wav import make_wav

AUDIO_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "audio"
DEMO_UTTERANCES = ("en_where_milk", "en_hours_1", "en_offers_1", "en_points_1", "en_staff_1", "en_off_weather", "en_help_2")
FRAME_SAMPLES = 1024

Publish = Callable[..., None]
Line = Callable[[str, str], None]


class DemoSpeaker:
    def __init__(self, publish: Publish, site: str, line: Line, names: tuple[str, ...] = DEMO_UTTERANCES) -> None:
        self._publish = publish
        self._site = site
        self._line = line
        self._names = names
        self._session: str | None = None
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self.turns = 0

    def attach(self, client: MqttClient) -> None:
        for subscription in (topics.DM_SESSION_STARTED, topics.DM_SESSION_ENDED, topics.ASR_TEXT_CAPTURED, topics.INTENT_SUBSCRIPTION, topics.NLU_INTENT_NOT_RECOGNIZED):
            client.route(subscription, self.on_message, qos=1, auto_ack=True)

    def on_message(self, message: InboundMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("siteId") != self._site:
            return
        if message.topic == topics.DM_SESSION_STARTED and self._session is None:
            self._session = str(body.get("sessionId"))
            self._started.set()
            return
        if body.get("sessionId") != self._session:
            return
        if message.topic == topics.ASR_TEXT_CAPTURED:
            self._line("speaker", f"heard: {body.get('text')!r}")
        elif (name := topics.parse_intent_topic(message.topic)) is not None:
            slots = ", ".join(f"{s.get('slotName')}={s.get('value', {}).get('value')}" for s in body.get("slots", []))
            self._line("speaker", f"intent: {name}({slots})")
        elif message.topic == topics.NLU_INTENT_NOT_RECOGNIZED:
            self._line("speaker", "intent: not recognised")
        elif message.topic == topics.DM_SESSION_ENDED:
            self._line("speaker", f"session ended: {body.get('termination', {}).get('reason')}")
            self._ended.set()

    async def run(self, pause_s: float = 6.0, rounds: int | None = None) -> None:
        done = 0
        while rounds is None or done < rounds:
            for name in self._names:
                await self.play(AUDIO_DIR / f"{name}.wav")
                await asyncio.sleep(pause_s)
            done += 1

    async def play(self, path: Path, timeout_s: float = 15.0) -> None:
        with wave.open(str(path), "rb") as reader:
            pcm = reader.readframes(reader.getnframes())
        self._session = None
        self._started.clear()
        self._ended.clear()
        self._line("speaker", f"plays {path.stem}")
        self._publish(topics.DM_START_SESSION, json.dumps({"siteId": self._site, "init": {"type": "action"}}).encode(), qos=1)
        await asyncio.wait_for(self._started.wait(), timeout_s)
        step = FRAME_SAMPLES * 2
        for offset in range(0, len(pcm), step):
            if self._ended.is_set():
                break
            frame = AudioFrame(self._site, make_wav(pcm[offset : offset + step]))
            self._publish(frame.topic(), frame.wav, qos=0)
            await asyncio.sleep(FRAME_SAMPLES / 16000)  # in real time, as a microphone records
        await asyncio.wait_for(self._ended.wait(), timeout_s)
        self.turns += 1
