"""Helpers for the voice tests: the committed utterances, WAV frames as a speaker sends them,
and a Hermes client that runs a session the way a Rhasspy satellite does."""

from __future__ import annotations

import json
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho

from gateway.config.settings import PROJECT_ROOT
from gateway.hermes.playback import parse_play_bytes_topic, play_finished_topic
from gateway.audio import make_wav
from tests.support.clients import Collector, Login, Publisher

AUDIO_DIR = PROJECT_ROOT / "tests" / "data" / "audio"
FRAME_SAMPLES = 1024  # what Rhasspy's audio recorder sends per frame


@dataclass(frozen=True)
class Utterance:
    name: str
    voice: str
    text: str
    intent: str | None
    slots: dict[str, str]

    @property
    def path(self) -> Path:
        return AUDIO_DIR / f"{self.name}.wav"

    def pcm(self) -> bytes:
        with wave.open(str(self.path), "rb") as reader:
            assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (16000, 1, 2)
            return reader.readframes(reader.getnframes())


def utterances(voice_prefix: str | None = None, manifest: str = "utterances.tsv") -> list[Utterance]:
    """The committed test utterances (`answers.tsv`: the yes/no answers to the speaker's questions)."""
    out = []
    for line in (AUDIO_DIR / manifest).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, voice, text, intent, *rest = line.split("\t") + [""]
        slots = dict(pair.split("=", 1) for pair in rest[0].split(",") if pair) if rest and rest[0] else {}
        if voice_prefix is None or voice.startswith(voice_prefix):
            out.append(Utterance(name, voice, text, None if intent == "-" else intent, slots))
    return out


def frames(pcm: bytes, samples: int = FRAME_SAMPLES, rate: int = 16000) -> list[bytes]:
    step = samples * 2
    return [make_wav(pcm[i : i + step], rate) for i in range(0, len(pcm), step)]


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(16000 * seconds)


class HermesClient(Collector):
    """A test speaker: collects every Hermes message and publishes frames and control messages.
    Like a Rhasspy satellite's audio server it answers each `playBytes` with `playFinished`
    (at once: the test does not wait for the audio to be played) unless `answer_play` is off."""

    def __init__(
        self, host: str, port: int, client_id: str = "test-speaker", extra_topics: tuple[str, ...] = (), answer_play: bool = True,
        login: Login | None = None,
    ) -> None:
        self.answer_play = answer_play
        self.answers_for: str | None = None  # a site: answer only its playBytes (several satellites on one broker)
        self.publisher: Publisher | None = None
        super().__init__(host, port, ["hermes/#", "touchgate/+/staff", *extra_topics], client_id=client_id, login=login)
        self.publisher = Publisher(host, port, client_id=f"{client_id}-pub", login=login)

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        super()._on_message(client, userdata, msg)
        played = parse_play_bytes_topic(msg.topic)
        if played is not None and self.answer_play and self.publisher is not None and self.answers_for in (None, played[0]):
            site, request_id = played
            body = json.dumps({"id": request_id, "siteId": site}).encode()
            self.publisher.publish(play_finished_topic(site), body, qos=1)  # from paho's thread: no wait

    def send(self, topic: str, payload: dict[str, object] | bytes, qos: int = 1) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        assert self.publisher is not None
        self.publisher.publish(topic, body, qos=qos).wait_for_publish(10)

    def stream(self, site: str, wavs: list[bytes], realtime: float = 0.0) -> float:
        """Publish frames (QoS 0, as satellites do), `realtime` seconds apart; returns
        perf_counter right after the last one was handed to the client."""
        sent_at = time.perf_counter()
        for index, wav in enumerate(wavs):
            if realtime and index:
                time.sleep(realtime)
            assert self.publisher is not None
            self.publisher.publish(f"hermes/audioServer/{site}/audioFrame", wav, qos=0)
            sent_at = time.perf_counter()
        return sent_at

    def json_on(self, topic: str, timeout: float = 10.0, after: int = 0, **fields: object) -> dict[str, object]:
        """The first JSON message on `topic` (a filter) with these field values, among the
        messages received after the first `after` ones."""
        with self._lock:
            skip = {id(m) for m in self.messages[:after]}

        def matches(m: paho.MQTTMessage) -> bool:
            if id(m) in skip or not paho.topic_matches_sub(topic, m.topic):
                return False
            try:
                body = json.loads(m.payload)
            except ValueError:
                return False
            return all(body.get(k) == v for k, v in fields.items())

        found = self.wait_for(matches, timeout)
        return json.loads(found[0].payload)

    def topics(self) -> list[str]:
        with self._lock:
            return [m.topic for m in self.messages]

    def start_session(self, site: str) -> str:
        with self._lock:
            before = len(self.messages)
        self.send("hermes/dialogueManager/startSession", {"siteId": site, "init": {"type": "action"}})
        started = self.json_on("hermes/dialogueManager/sessionStarted", siteId=site, after=before)
        return str(started["sessionId"])

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        super().close()
