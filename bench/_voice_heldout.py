"""Held-out evaluation of the voice understanding: the corpus in tests/data/voice_heldout/,
written blind to the sentences, split by a hash of each utterance id into `dev` (40 %: failures
may be read, to find *general* gaps) and `test` (60 %: only aggregate figures are ever looked
at; they are what bench/voice.py reports as heldout_*). The tuning set (tests/data/voice_tuning/)
is separate and may be read freely.

Audio runs through the same path as the gateway: endpointing (`new_listening`), the engine's
recogniser (with speculation), `understand.match_transcript` and the effect guard; in this
process, so a few hundred utterances take minutes, not the hour real-time streaming would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "data" / "voice_heldout"
# A second held-out corpus (session 9), written blind after the first's test split had been looked
# at after every change: all of it is held out (no dev split); only its aggregates are reported.
HELDOUT2 = ROOT / "tests" / "data" / "voice_heldout2"
TUNING = ROOT / "tests" / "data" / "voice_tuning"
DEV_SHARE = 40  # percent


def split_of(utterance_id: str) -> str:
    """`dev` or `test`, fixed by the id alone (sha256), so the split never depends on order."""
    return "dev" if int(hashlib.sha256(utterance_id.encode()).hexdigest()[:8], 16) % 100 < DEV_SHARE else "test"


@dataclass(frozen=True)
class Item:
    id: str
    lang: str
    text: str
    intent: str | None
    slots: dict[str, str]
    wav: Path | None = None


def load_items(corpus: Path) -> list[Item]:
    doc = yaml.safe_load(corpus.read_text(encoding="utf-8"))
    return [Item(u["id"], u["lang"], u["text"], u.get("intent"), {k: str(v) for k, v in (u.get("slots") or {}).items()}) for u in doc["utterances"]]


def renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("voice_heldout_render", HELDOUT / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def render_items(out_dir: Path, lang: str = "en", per_cell: int = 6, corpus_path: Path | None = None) -> list[Item]:
    """The corpus's audio (rendered once into `out_dir`, reused after), as items with WAVs
    (the first held-out corpus, or the one at `corpus_path`, in the same voices and noises)."""
    render = renderer()
    corpus = render.load_corpus(corpus_path) if corpus_path is not None else render.load_corpus()
    engine = render.Renderer(out_dir, corpus)
    items = []
    for spec in render.plan(corpus, per_cell=per_cell, langs=(lang,)):
        item, _ = engine.render(spec)
        items.append(Item(f"{item.id}", item.lang, item.text, item.intent, dict(item.slots), out_dir / item.path))
    return items


@dataclass
class Score:
    """What happened to each utterance, counted the way the issue asks."""

    total: int = 0
    right: int = 0
    in_domain: int = 0
    in_domain_right: int = 0
    slotted: int = 0
    slots_right: int = 0
    off_topic: int = 0
    false_accepts: int = 0
    effectful_wrong: int = 0
    asked_back: int = 0

    def add(self, item: Item, acted: Any, asked_back: bool, effectful: frozenset[str]) -> None:
        """`acted`: the IntentMatch the gateway would act on (publish and run), or None."""
        got = acted.intent if acted is not None else None
        self.total += 1
        self.asked_back += asked_back
        if got is not None and got in effectful and got != item.intent:
            self.effectful_wrong += 1
        if item.intent is None:
            self.off_topic += 1
            self.false_accepts += got is not None
            self.right += got is None
            return
        self.in_domain += 1
        ok = got == item.intent
        self.in_domain_right += ok
        self.right += ok
        if item.slots:
            self.slotted += 1
            slots = {s.name: str(s.value) for s in acted.slots} if acted is not None else {}
            self.slots_right += ok and all(slots.get(k) == v for k, v in item.slots.items())

    def merge(self, other: Score) -> None:
        """Add another part's counts (the folds of a cross-validation)."""
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)

    def figures(self, prefix: str = "heldout_") -> dict[str, Any]:
        share = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
        return {
            f"{prefix}utterances": self.total,
            f"{prefix}accuracy": share(self.right, self.total),
            f"{prefix}in_domain_accuracy": share(self.in_domain_right, self.in_domain),
            f"{prefix}slot_accuracy": share(self.slots_right, self.slotted),
            "false_accept_rate": share(self.false_accepts, self.off_topic),
            "effectful_wrong": self.effectful_wrong,
            f"{prefix}ask_back_rate": share(self.asked_back, self.total),
        }


def judge_text(lang: str, items: Iterable[Item], settings: Any = None) -> Score:
    """NLU alone on the written text (both languages): exact, then fuzzy matching, then the
    skills' key words (`Matcher.match_text`), then the guard."""
    from gateway.voice.effects import EffectGuard
    from gateway.voice.settings import VoiceSettings
    from gateway.voice.skillset import build_intent_model

    settings = settings or VoiceSettings()
    model, _ = build_intent_model(settings, lang)
    score = Score()
    for item in items:
        if item.lang != lang:
            continue
        match = model.matcher.match_text(item.text, None, settings.guard.max_skips)
        acted, ask = EffectGuard(settings.guard).check(item.id, lang, match, model.matcher)
        score.add(item, acted, ask is not None, model.matcher.effectful)
    return score


def transcribe(item: Item, engine: Any, settings: Any) -> Any:
    """One rendered file through the gateway's endpointer and a fresh recogniser of `engine`, in
    2,048-byte frames as a speaker sends them: the Transcript a turn would have."""
    import wave

    from gateway.audio import make_wav, read_frame
    from gateway.voice.listener import decode_offline, new_listening
    from gateway.voice.vad import VadState

    assert item.wav is not None
    with wave.open(str(item.wav), "rb") as reader:
        pcm = reader.readframes(reader.getnframes())
    listening = new_listening("eval", item.id, settings.endpoint, 0.0)
    recogniser = engine.recogniser()
    for start in range(0, len(pcm), 2048):
        state = listening.feed(read_frame(make_wav(pcm[start : start + 2048]), settings.max_frame_bytes).pcm)
        if state not in (VadState.WAITING, VadState.SPEECH):
            break
    transcript = decode_offline(listening, recogniser)
    recogniser.close()
    return transcript


def judge_audio(items: Iterable[Item], settings: Any = None, failures: list[str] | None = None, lang: str = "en") -> Score:
    """Audio in `lang` through endpointing, the recogniser `settings` choose (PocketSphinx by
    default; Vosk where settings name a model folder), understanding and the guard."""
    from gateway.voice.effects import EffectGuard
    from gateway.voice.engines.factory import load_engine
    from gateway.voice.settings import VoiceSettings
    from gateway.voice.skillset import build_intent_model
    from gateway.voice.understand import match_transcript

    settings = settings or VoiceSettings()
    model, _ = build_intent_model(settings, lang)
    engine = load_engine(settings, model)
    score = Score()
    for item in items:
        transcript = transcribe(item, engine, settings)
        match = match_transcript(model.matcher, transcript, None, engine.min_confidence, settings.guard.passes(), engine.decision)
        acted, ask = EffectGuard(settings.guard).check(item.id, lang, match, model.matcher)
        score.add(item, acted, ask is not None, model.matcher.effectful)
        if failures is not None and (acted.intent if acted else None) != item.intent:
            heard = transcript.fallback.text if transcript.fallback else transcript.text
            wav = item.wav.name if item.wav else "?"
            failures.append(f"{item.id} {wav}: {item.text!r} heard {heard!r} -> {acted.intent if acted else None} (ask_back={ask is not None})")
    return score


def main() -> None:
    """Tuning aid: figures for the tuning set and the dev split, with the failures of both
    (never the test split's items)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--audio-cache", type=Path, default=None, help="render the English corpus here and evaluate its dev split")
    args = parser.parse_args()
    for name, corpus, keep in (("tuning", TUNING / "utterances.yaml", lambda i: True), ("dev", HELDOUT / "utterances.yaml", lambda i: split_of(i.id) == "dev")):
        items = [i for i in load_items(corpus) if keep(i)]
        for lang in ("en", "de"):
            print(name, lang, json.dumps(judge_text(lang, items).figures("text_")))
    if args.audio_cache:
        dev = [i for i in render_items(args.audio_cache) if split_of(i.id) == "dev"]
        failures: list[str] = []
        print("dev audio", json.dumps(judge_audio(dev, failures=failures).figures()))
        print("\n".join(failures))


if __name__ == "__main__":
    main()
