"""One spoken Hermes turn as bench/voice.py and bench/_wyoming_turn.py play it: the satellite
starts a session, streams the utterance's frames in real time, and the turn ends when the reply's
`playBytes` has arrived (answered with playFinished by the client) and the session is over.

Shared so the two benchmarks time the Hermes side the same way."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.voice.support import HermesClient

ASKED_BACK_ENDING = "Please say yes or no."
TURN_TIMEOUT_S = 30.0


class TimedClient(HermesClient):
    """Notes when each message arrived (perf_counter, in paho's thread)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received_at: dict[int, float] = {}
        super().__init__(*args, **kwargs)

    def _on_message(self, client: Any, userdata: object, msg: Any) -> None:
        self.received_at[id(msg)] = time.perf_counter()
        super()._on_message(client, userdata, msg)


@dataclass(frozen=True)
class SpokenTurn:
    say_text: str
    say_to_audio_ms: float  # hermes/tts/say → its playBytes
    turn_ms: float  # the frame completing the endpointing silence → the reply's playBytes


def session_of(payload: bytes) -> object:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return body.get("sessionId") if isinstance(body, dict) else None


def walk_away_if_asked_back(client: HermesClient, said: str, session: str) -> None:
    """The effect guard asked back (acted on nothing, listens for yes or no): the customer walks
    away, so the session ends now instead of at its timeout."""
    if said.endswith(ASKED_BACK_ENDING):
        client.send("hermes/dialogueManager/endSession", {"sessionId": session})


def spoken_turn(client: TimedClient, site: str, frames: list[bytes], frame_s: float) -> SpokenTurn:
    step = "sessionStarted after startSession"
    try:
        session = client.start_session(site)
        sent_at = client.stream(site, frames, realtime=frame_s)
        step = f"hermes/tts/say in session {session}"
        said = client.wait_for(lambda m: m.topic == "hermes/tts/say" and session_of(m.payload) == session, TURN_TIMEOUT_S)[0]
        say = json.loads(said.payload)
        step = f"playBytes of say {say['id']} ({say['text']!r})"
        play = client.wait_for(lambda m: m.topic == f"hermes/audioServer/{site}/playBytes/{say['id']}", TURN_TIMEOUT_S)[0]
        walk_away_if_asked_back(client, str(say["text"]), session)
        step = f"sessionEnded of session {session}"
        client.json_on("hermes/dialogueManager/sessionEnded", TURN_TIMEOUT_S, sessionId=session)
    except TimeoutError as exc:
        raise TimeoutError(f"Hermes turn on {site}: no {step}") from exc
    said_at, played_at = client.received_at[id(said)], client.received_at[id(play)]
    return SpokenTurn(str(say["text"]), (played_at - said_at) * 1000, (played_at - sent_at) * 1000)
