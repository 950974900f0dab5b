"""A Rhasspy satellite played by the test: wake word, microphone frames, loudspeaker. Blocking
calls (paho threads); tests run them with asyncio.to_thread while the gateway runs in the loop."""

from __future__ import annotations

import io
import json
import time
import wave
from typing import Any

import paho.mqtt.client as paho

from gateway.hermes.playback import parse_play_bytes_topic, play_finished_topic
from tests.voice.support import HermesClient, frames, silence, utterances

SPOKEN = {u.name: u for u in utterances("en")}


class Satellite(HermesClient):
    def __init__(self, host: str, port: int, site: str, answer_play: bool = True) -> None:
        super().__init__(host, port, client_id=f"sat-{site}", answer_play=answer_play)
        self.answers_for = self.site = site

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def wake(self, timeout: float = 10.0) -> str:
        """The wake word was heard: returns the id of the session the gateway started."""
        before = self.count()
        self.send("hermes/hotword/hey-shop/detected", {"siteId": self.site, "modelId": "hey-shop"})
        started = self.json_on("hermes/dialogueManager/sessionStarted", timeout, before, siteId=self.site)
        return str(started["sessionId"])

    def listening(self, session: str, after: int = 0, timeout: float = 10.0) -> dict[str, Any]:
        return self.json_on("hermes/asr/startListening", timeout, after, sessionId=session)

    def say_utterance(self, name: str, realtime: float = 0.0) -> None:
        self.stream(self.site, frames(SPOKEN[name].pcm()), realtime)

    def say_nothing(self, seconds: float) -> None:
        self.stream(self.site, frames(silence(seconds)))

    def play_bytes(self, after: int = 0) -> list[paho.MQTTMessage]:
        with self._lock:
            found = self.messages[after:]
        return [m for m in found if (parsed := parse_play_bytes_topic(m.topic)) is not None and parsed[0] == self.site]

    def wait_play_bytes(self, after: int = 0, timeout: float = 10.0) -> paho.MQTTMessage:
        deadline = time.monotonic() + timeout
        while not (found := self.play_bytes(after)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no playBytes for {self.site} in {timeout}s")
            time.sleep(0.01)
        return found[0]

    def play_finished(self, request_id: str) -> None:
        self.send(play_finished_topic(self.site), {"id": request_id, "siteId": self.site})

    def topics_since(self, after: int) -> list[str]:
        """Topics of the messages for this site (every satellite hears all of hermes/#)."""
        with self._lock:
            return [m.topic for m in self.messages[after:] if self._for_me(m)]

    def _for_me(self, message: paho.MQTTMessage) -> bool:
        if f"/{self.site}/" in message.topic:
            return True
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return False
        return isinstance(payload, dict) and payload.get("siteId") == self.site

    def ended(self, session: str, timeout: float = 15.0) -> dict[str, Any]:
        return self.json_on("hermes/dialogueManager/sessionEnded", timeout, sessionId=session)


def wav_seconds(payload: bytes) -> float:
    """Parsed with the standard library alone: a valid WAV, and how long it plays."""
    with wave.open(io.BytesIO(payload)) as reader:
        assert reader.getcomptype() == "NONE" and reader.getnframes() > 0
        return reader.getnframes() / reader.getframerate()


def body(message: paho.MQTTMessage) -> dict[str, Any]:
    return dict(json.loads(message.payload))
