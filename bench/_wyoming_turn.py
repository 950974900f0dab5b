"""The Wyoming turn of bench/voice.py (`transport_results.wyoming`), beside the Hermes turn of the
same run: the committed English utterances through a real gateway process, this time from a
Wyoming satellite instead of a Hermes speaker.

The bench is the satellite end (written with the `wyoming` package, listening as a satellite
does; the gateway dials it). Each turn: `run-pipeline` starting at `asr` (the satellite heard its
own wake word, so the gateway's wake stage is not in the figure), the utterance streamed as
`audio-chunk`s in real time until the gateway's endpointer has heard its silence, the reply
streamed back; `played` ends it.

- turn_p50_ms / turn_p95_ms: from writing the chunk that completes the endpointing silence to
  receiving the first `audio-chunk` of the reply: recognition, NLU, skill, synthesis (espeak-ng)
  and the audio conversion. The Hermes counterpart is tts_results["espeak-ng"].turn_to_audio_p95_ms
  (the frame that completes the silence → the reply's playBytes).
- transcripts_right: turns whose `transcript` event carried the utterance's text.
- loop_s: the pure-Python loop time of this machine (summing 1e7 integers), beside the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played

from _common import stop_process
from gateway.audio import read_frame
from tests.support.mosquitto import Mosquitto
from tests.voice.support import FRAME_SAMPLES, HermesClient, Utterance, utterances

ROOT = Path(__file__).resolve().parents[1]
SITE = "wyo"
TIMEOUT_S = 60.0


def loop_s() -> float:
    """The machine's pure-Python speed, as every benchmark reports it."""
    out = subprocess.run(
        [sys.executable, "-c", "import time; t = time.perf_counter(); sum(range(10**7)); print(time.perf_counter() - t)"],
        check=True, capture_output=True, text=True,
    )
    return round(float(out.stdout), 3)


class _SatelliteEnd:
    """Listens as a satellite does; notes when each event from the gateway arrived."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.connected.set()
        try:
            while (event := await async_read_event(reader)) is not None:
                await self.events.put((time.perf_counter(), event))
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    async def send(self, event: Event) -> None:
        assert self.writer is not None
        await async_write_event(event, self.writer)

    async def next(self, event_type: str) -> tuple[float, Event]:
        # One deadline for the awaited event: the gateway's pings every few seconds must not keep
        # a wait for an event that never comes alive forever.
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                at, event = await self.events.get()
                if event.type == event_type:
                    return at, event


def _start_gateway(broker: Mosquitto, workdir: Path, satellite_port: int) -> subprocess.Popen[bytes]:
    config = {
        "site_id": "bench-wyoming",
        "mqtt": {"host": broker.host, "port": broker.port, "client_id": "bench-wyoming"},
        "store": {"path": str(workdir / "wyoming.db")},
        "tts": {"enabled": True},
        "voice": {"engine": "pocketsphinx", "language": "en"},
        "wyoming": {"enabled": True, "satellites": [{"uri": f"tcp://127.0.0.1:{satellite_port}", "site_id": SITE}]},
    }
    config_file = workdir / "wyoming.yaml"
    config_file.write_text(yaml.safe_dump(config))
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config_file)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=(log := open(workdir / "wyoming.log", "wb")), stderr=log,  # noqa: SIM115
    )


def _walk_away_when_asked_back(client: HermesClient, before: int) -> None:
    """Wait for the turn's session to end. When the effect guard asked back (it listens again for
    yes or no: a second startListening), the customer walks away: the session is ended at once
    instead of at its timeout, as bench/voice.py does for Hermes speakers."""
    # The turn's first startListening (the turn waited for it) names its session.
    session = client.json_on("hermes/asr/startListening", TIMEOUT_S, before, siteId=SITE)["sessionId"]
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        with client._lock:
            mine = [m for m in client.messages[before:] if _session_of(m.payload) == session]
        if any(m.topic == "hermes/dialogueManager/sessionEnded" for m in mine):
            return
        if sum(m.topic == "hermes/asr/startListening" for m in mine) >= 2:
            client.send("hermes/dialogueManager/endSession", {"sessionId": session})
            client.json_on("hermes/dialogueManager/sessionEnded", TIMEOUT_S, before, sessionId=session)
            return
        time.sleep(0.01)
    raise TimeoutError(f"session {session} neither ended nor asked back within {TIMEOUT_S} s")


def _session_of(payload: bytes) -> object:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return body.get("sessionId") if isinstance(body, dict) else None


async def _turn(end: _SatelliteEnd, client: HermesClient, utterance: Utterance, chunks: list[bytes], frame_s: float) -> tuple[float, bool]:
    with client._lock:
        before = len(client.messages)
    await end.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
    await asyncio.to_thread(client.json_on, "hermes/asr/startListening", TIMEOUT_S, before, siteId=SITE)
    await end.send(AudioStart(rate=16000, width=2, channels=1).event())
    sent_at = time.perf_counter()
    for index, pcm in enumerate(chunks):
        if index:
            await asyncio.sleep(max(0.0, sent_at + frame_s - time.perf_counter()))
        await end.send(AudioChunk(rate=16000, width=2, channels=1, audio=pcm).event())
        sent_at = time.perf_counter()
    _, transcript = await end.next("transcript")
    first_at, _ = await end.next("audio-chunk")
    await end.next("audio-stop")
    await end.send(Played().event())
    await asyncio.to_thread(_walk_away_when_asked_back, client, before)
    return (first_at - sent_at) * 1000, transcript.data.get("text") == utterance.text


async def _run(broker: Mosquitto, workdir: Path, speed: float, frames_of: Callable[[Utterance], list[bytes]]) -> dict[str, Any]:
    end = _SatelliteEnd()
    server = await asyncio.start_server(end.connection, "127.0.0.1", 0)
    process = _start_gateway(broker, workdir, server.sockets[0].getsockname()[1])
    client = HermesClient(broker.host, broker.port, client_id="bench-wyoming-observer", answer_play=False)
    try:
        await asyncio.wait_for(end.connected.wait(), 180)
        await end.next("run-satellite")
        turn_ms, right, named = [], 0, []
        frame_s = FRAME_SAMPLES / 16000 / speed
        for utterance in utterances("en"):
            chunks = [read_frame(wav, 1 << 20).pcm for wav in frames_of(utterance)]
            latency, transcript_right = await _turn(end, client, utterance, chunks, frame_s)
            turn_ms.append(latency)
            named.append((round(latency, 1), utterance.name))
            right += transcript_right
        ordered = sorted(turn_ms)
        return {
            "turns": len(turn_ms),
            "transcripts_right": right,
            "turn_p50_ms": round(statistics.median(ordered), 1),
            "turn_p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "slowest": sorted(named, reverse=True)[:3],
            "metric": "chunk completing the endpointing silence -> first reply audio-chunk, ms (pipeline from asr, espeak-ng)",
        }
    finally:
        client.close()
        await asyncio.to_thread(stop_process, process)  # the gateway pauses the satellite and hangs up...
        if end.connected.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(end.closed.wait(), 10)  # ...so the connection ends before the loop
        server.close()


def run_wyoming_turn(broker: Mosquitto, workdir: Path, speed: float, frames_of: Callable[[Utterance], list[bytes]]) -> dict[str, Any]:
    return asyncio.run(_run(broker, workdir, speed, frames_of))


def transport_results(hermes_tts: dict[str, Any], wyoming: dict[str, Any]) -> dict[str, Any]:
    """Both transports of the same run, and the issue's target: Wyoming p95 within 50 ms of Hermes'."""
    hermes_p95 = hermes_tts["turn_to_audio_p95_ms"]
    return {
        "hermes": {"turn_p95_ms": hermes_p95, "metric": "frame completing the endpointing silence -> playBytes, ms (espeak-ng)"},
        "wyoming": wyoming,
        "wyoming_minus_hermes_p95_ms": round(wyoming["turn_p95_ms"] - hermes_p95, 1),
        "within_50_ms": wyoming["turn_p95_ms"] - hermes_p95 <= 50,
        "loop_s": loop_s(),
    }
