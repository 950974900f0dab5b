"""The Wyoming turn of bench/voice.py (`transport_results`), paired with a Hermes turn: the
committed English utterances through ONE real gateway process that serves a Hermes speaker (site
`bench`) and a Wyoming satellite (site `wyo`) at once, each utterance played to the Hermes speaker
and then to the satellite. Interleaved on one gateway, both transports see the same load at the
same moment: a load that changes during a run moves both figures, not their difference (three
separate-phase runs on an otherwise quiet machine differed by -293 to +226 ms).

The bench is the satellite end (written with the `wyoming` package, listening as a satellite
does; the gateway dials it). Each Wyoming turn: `run-pipeline` starting at `asr` (the satellite
heard its own wake word, so the gateway's wake stage is not in the figure), the utterance
streamed as `audio-chunk`s in real time until the gateway's endpointer has heard its silence, the
reply streamed back; `played` ends it. Each Hermes turn: bench/_hermes_turn.py.

- wyoming.turn_p50_ms / turn_p95_ms: from writing the chunk that completes the endpointing
  silence to receiving the first `audio-chunk` of the reply: recognition, NLU, skill, synthesis
  (espeak-ng) and the audio conversion.
- hermes.turn_p50_ms / turn_p95_ms: the frame that completes the silence → the reply's playBytes.
- transcripts_right: Wyoming turns whose `transcript` event carried the utterance's text.
- loop_s: the pure-Python loop time of this machine (summing 1e7 integers), beside the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from _common import loop_time, stop_process
from _hermes_turn import TimedClient, session_of, spoken_turn
from gateway.audio import read_frame
from tests.support.mosquitto import Mosquitto
from tests.voice.support import FRAME_SAMPLES, HermesClient, Utterance, utterances

ROOT = Path(__file__).resolve().parents[1]
SITE = "wyo"
HERMES_SITE = "bench"
TIMEOUT_S = 60.0


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
            mine = [m for m in client.messages[before:] if session_of(m.payload) == session]
        if any(m.topic == "hermes/dialogueManager/sessionEnded" for m in mine):
            return
        if sum(m.topic == "hermes/asr/startListening" for m in mine) >= 2:
            client.send("hermes/dialogueManager/endSession", {"sessionId": session})
            client.json_on("hermes/dialogueManager/sessionEnded", TIMEOUT_S, before, sessionId=session)
            return
        time.sleep(0.01)
    raise TimeoutError(f"session {session} neither ended nor asked back within {TIMEOUT_S} s")


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


def _tell_why(transport: str, utterance: Utterance, workdir: Path) -> None:
    """A turn that timed out: which one, and the gateway's last words (its log goes with the
    run's temporary directory)."""
    print(f"{transport} turn of {utterance.name} ({utterance.text!r}) timed out; the gateway's log ends:", file=sys.stderr)
    lines = (workdir / "wyoming.log").read_text(errors="replace").splitlines()
    print("\n".join(lines[-30:]), file=sys.stderr, flush=True)


def _figures(turn_ms: list[float], named: list[tuple[float, str]]) -> dict[str, Any]:
    ordered = sorted(turn_ms)
    return {
        "turns": len(ordered),
        "turn_p50_ms": round(statistics.median(ordered), 1),
        "turn_p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "slowest": sorted(named, reverse=True)[:3],
    }


async def _run(broker: Mosquitto, workdir: Path, speed: float, frames_of: Callable[[Utterance], list[bytes]]) -> dict[str, Any]:
    end = _SatelliteEnd()
    server = await asyncio.start_server(end.connection, "127.0.0.1", 0)
    process = _start_gateway(broker, workdir, server.sockets[0].getsockname()[1])
    client = TimedClient(broker.host, broker.port, client_id="bench-transports", extra_topics=("touchgate/bench-wyoming/status",))
    client.answers_for = HERMES_SITE
    try:
        await asyncio.wait_for(end.connected.wait(), 180)
        await end.next("run-satellite")
        online = lambda m: m.topic == "touchgate/bench-wyoming/status" and m.payload == b"online"  # noqa: E731
        await asyncio.to_thread(client.wait_for, online, 120)
        wyoming_ms, hermes_ms, right = [], [], 0
        wyoming_named, hermes_named = [], []
        frame_s = FRAME_SAMPLES / 16000 / speed
        for utterance in utterances("en"):
            frames = frames_of(utterance)
            try:
                hermes = await asyncio.to_thread(spoken_turn, client, HERMES_SITE, frames, frame_s)
            except TimeoutError:
                _tell_why("Hermes", utterance, workdir)
                raise
            hermes_ms.append(hermes.turn_ms)
            hermes_named.append((round(hermes.turn_ms, 1), utterance.name))
            chunks = [read_frame(wav, 1 << 20).pcm for wav in frames]
            try:
                latency, transcript_right = await _turn(end, client, utterance, chunks, frame_s)
            except TimeoutError:
                _tell_why("Wyoming", utterance, workdir)
                raise
            wyoming_ms.append(latency)
            wyoming_named.append((round(latency, 1), utterance.name))
            right += transcript_right
        return {
            "wyoming": {
                **_figures(wyoming_ms, wyoming_named), "transcripts_right": right,
                "metric": "chunk completing the endpointing silence -> first reply audio-chunk, ms (pipeline from asr, espeak-ng)",
            },
            "hermes": {
                **_figures(hermes_ms, hermes_named),
                "metric": "frame completing the endpointing silence -> the reply's playBytes, ms (espeak-ng)",
            },
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


def transport_results(paired: dict[str, Any]) -> dict[str, Any]:
    """Both transports of the same run, interleaved on one gateway, and the issue's target:
    Wyoming p95 within 50 ms of Hermes'."""
    difference = round(paired["wyoming"]["turn_p95_ms"] - paired["hermes"]["turn_p95_ms"], 1)
    return {**paired, "wyoming_minus_hermes_p95_ms": difference, "within_50_ms": difference <= 50, "loop_s": loop_time()["loop_s"]}
