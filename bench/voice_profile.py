"""Where a voice turn's recognition time goes, in this process (no broker, no gateway).

The committed test utterances go through the gateway's own endpointer and recogniser, as in
bench/voice.py's RTF measure. For PocketSphinx the decoder class is replaced, in this process
only, by a subclass that times its calls, so the report splits the time by what the decoders do
(construction, and decoding per search: the grammar, the phone loop, any other pass) whatever
passes the recogniser makes. Per utterance: the turn's critical path (`finish`, plus the
speculative `snapshot` decode when its result is used; a snapshot thrown away is counted apart)
and what runs after the answer (`close`: the spare decoders).

    .venv/bin/python bench/voice_profile.py [--engine pocketsphinx]

Run it under bench/throttle.py to see the same on a slow CPU. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import cpu_reference, emit, loop_time, machine, percentile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.voice import endpoint_frames, engine_voice_settings  # noqa: E402
from gateway.voice.engines.factory import load_engine  # noqa: E402
from gateway.voice.listener import Snapshot, new_listening  # noqa: E402
from gateway.voice.settings import VoiceSettings  # noqa: E402
from gateway.voice.skillset import build_intent_model  # noqa: E402
from gateway.audio import read_frame  # noqa: E402
from tests.voice.support import utterances  # noqa: E402


class DecoderTimes:
    """Seconds spent in PocketSphinx decoders, by bucket ("build", "turn", "after") and phase."""

    def __init__(self) -> None:
        self.bucket = "build"
        self.seconds: dict[str, dict[str, float]] = {}

    def add(self, phase: str, seconds: float) -> None:
        bucket = self.seconds.setdefault(self.bucket, {})
        bucket[phase] = bucket.get(phase, 0.0) + seconds

    def report(self) -> dict[str, dict[str, float]]:
        return {b: {k: round(v * 1000, 1) for k, v in sorted(p.items(), key=lambda kv: -kv[1])} for b, p in self.seconds.items()}


def time_pocketsphinx(times: DecoderTimes) -> None:
    """Make `pocketsphinx.Decoder` a timing subclass (the engine looks it up at each construction)."""
    import pocketsphinx

    native = pocketsphinx.Decoder

    def timed(phase_of):  # type: ignore[no-untyped-def]
        def wrap(name: str):  # type: ignore[no-untyped-def]
            method = getattr(native, name)

            def call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                started = time.perf_counter()
                try:
                    return method(self, *args, **kwargs)
                finally:
                    times.add(phase_of(self, name), time.perf_counter() - started)

            return call

        return wrap

    construct = timed(lambda self, name: f"construct:{name}")
    decode = timed(lambda self, name: f"decode:{getattr(self, '_search', '?')}")

    class TimedDecoder(native):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            super().__init__(*args, **kwargs)
            times.add("construct:__init__", time.perf_counter() - started)
            self._search = "?"

        def activate_search(self, name: str | None = None) -> None:
            self._search = name or "?"
            native.activate_search(self, name)

        start_utt = decode("start_utt")
        process_raw = decode("process_raw")
        end_utt = decode("end_utt")

    for name in ("add_jsgf_string", "add_allphone_file", "add_lm_file", "add_fsg", "create_fsg", "add_jsgf_file", "add_kws"):
        if hasattr(native, name):
            setattr(TimedDecoder, name, construct(name))
    pocketsphinx.Decoder = TimedDecoder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="pocketsphinx")
    args = parser.parse_args()
    loop_at_start = loop_time()
    settings = VoiceSettings.model_validate(engine_voice_settings(args.engine))
    chosen = [u for u in utterances() if u.voice.startswith("en") or args.engine != "pocketsphinx"]

    times = DecoderTimes()
    if args.engine == "pocketsphinx":
        time_pocketsphinx(times)
    started = time.perf_counter()
    model, _ = build_intent_model(settings)
    engine = load_engine(settings, model)
    build_s = time.perf_counter() - started

    critical_ms, wasted_ms, close_ms, rtf = [], [], [], []
    used_snapshots = 0
    for utterance in chosen:
        listening = new_listening("bench", "profile", settings.endpoint, 0.0)
        for wav in endpoint_frames(utterance, settings):
            listening.feed(read_frame(wav, settings.max_frame_bytes).pcm)
        recogniser = engine.recogniser()
        snapshot_s = 0.0
        while not listening.queue.empty():
            item = listening.queue.get_nowait()
            if isinstance(item, Snapshot):
                t = time.perf_counter()
                times.bucket = "snapshot"
                recogniser.snapshot()
                snapshot_s += time.perf_counter() - t
            elif item is not None:
                recogniser.accept(item)
        t = time.perf_counter()
        times.bucket = "finish"
        transcript = recogniser.finish(listening.snapshot_holds)
        finish_s = time.perf_counter() - t
        if listening.snapshot_holds and snapshot_s:
            used_snapshots += 1
        elif snapshot_s:
            wasted_ms.append(snapshot_s * 1000)  # decoded while waiting, then thrown away
        # The snapshot runs during the endpointing silence: it is on the critical path only when used.
        critical_ms.append((finish_s + (snapshot_s if listening.snapshot_holds else 0.0)) * 1000)
        rtf.append(transcript.rtf)
        t = time.perf_counter()
        times.bucket = "after_turn"
        recogniser.close()
        close_ms.append((time.perf_counter() - t) * 1000)

    emit(
        {
            "bench": "voice_profile",
            "engine": args.engine,
            "utterances": len(chosen),
            "engine_build_s": round(build_s, 3),
            "recognition_p50_ms": round(percentile(critical_ms, 50), 1),
            "recognition_p95_ms": round(percentile(critical_ms, 95), 1),
            "recognition_max_ms": round(max(critical_ms), 1),
            "rtf_p50": round(percentile(rtf, 50), 4),
            "rtf_p95": round(percentile(rtf, 95), 4),
            "snapshots_used": used_snapshots,
            "snapshots_wasted": len(wasted_ms),
            "snapshot_wasted_ms_total": round(sum(wasted_ms), 1),
            "close_p50_ms": round(percentile(close_ms, 50), 1),
            "close_p95_ms": round(percentile(close_ms, 95), 1),
            # ms in decoders, summed over all utterances: snapshot (during the endpointing
            # silence), finish (after it), after_turn (close: spares), build (the engine's start)
            "decoder_ms": times.report(),
            "cpu": cpu_reference(loop_at_start),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
