"""Vosk (Kaldi) with a model directory from the settings, decoding against the skills' sentences.

The model is loaded once per process (hundreds of MB for large models); each site gets its own
`KaldiRecognizer`, which streams: audio is decoded as it arrives, so little is left to do when
the utterance ends. The grammar is the list of every sentence (or, past a limit, every word) the
skills can say, restricted to the model's vocabulary, plus `[unk]` where the model has it so
off-grammar speech comes out as unknown words instead of the nearest sentence.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Collection
from pathlib import Path

import vosk

from gateway.voice.engines.base import EngineError, PcmBuffer, Transcript, grammar_words
from gateway.voice.engines.decision import DecisionModel
from gateway.voice.nlu.expand import GrammarSource, TooManySentences, prune_grammar, sentences_of
from gateway.voice.nlu.ast import Alternatives

MAX_SENTENCES = 5000
ALTERNATIVES = 5
_RATE = 16000


class VoskEngine:
    name = "vosk"
    decision: DecisionModel | None = None  # one pass: no calibrated decision between passes

    def __init__(self, model_dir: Path, source: GrammarSource, dictation: bool = True) -> None:
        if not (model_dir / "am").is_dir() and not (model_dir / "final.mdl").exists():
            raise EngineError(f"{model_dir} is not a Vosk model directory")
        vosk.SetLogLevel(-1)
        try:
            self.model = vosk.Model(str(model_dir))
        except Exception as exc:  # noqa: BLE001 - vosk raises a bare Exception when loading fails
            raise EngineError(f"cannot load the Vosk model in {model_dir}: {exc}") from exc
        self._dictation = dictation
        self.min_confidence = 0.0  # Vosk's word confidences are not calibrated for rejection; [unk] does that
        known = lambda word: self.model.vosk_model_find_word(word) >= 0  # noqa: E731
        pruned = prune_grammar(source.templates, source.rules, source.lists, known)
        if not pruned.templates:
            raise EngineError(f"no sentence of the skills can be said with the vocabulary of {model_dir}")
        self.unknown_words = pruned.unknown_words
        top = Alternatives(tuple(t.expression for t in pruned.templates))
        try:
            phrases = sentences_of(top, pruned.rules, pruned.lists, MAX_SENTENCES)
        except TooManySentences:
            phrases = sorted(grammar_words(pruned))
        if known("[unk]"):
            phrases.append("[unk]")
        self.grammar = json.dumps(sorted(set(phrases)), ensure_ascii=False)
        self._idle: list[VoskRecogniser] = []
        self._lock = threading.Lock()

    def recogniser(self, intents: Collection[str] | None = None) -> VoskRecogniser:
        # One grammar for every turn (a Vosk grammar is compiled per recogniser): the turn's
        # intent filter is applied when matching.
        # Building a recogniser compiles the grammar: keep finished ones for the next site.
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return VoskRecogniser(self)

    def release(self, recogniser: VoskRecogniser) -> None:
        with self._lock:
            self._idle.append(recogniser)


class VoskRecogniser:
    def __init__(self, engine: VoskEngine) -> None:
        self._engine = engine
        self._recogniser = vosk.KaldiRecognizer(engine.model, _RATE, engine.grammar)
        # n-best: Vosk's grammar lets phrases follow each other, so a click before "yes" can read
        # as "no yes"; the next-best reading is then often the whole sentence.
        self._recogniser.SetMaxAlternatives(ALTERNATIVES)
        self._recogniser.SetWords(True)
        self._buffer = PcmBuffer()  # kept for the dictation fallback only
        self._last = b""
        self._decode_s = 0.0

    def accept(self, pcm: bytes) -> None:
        started = time.perf_counter()
        self._recogniser.AcceptWaveform(pcm)
        self._decode_s += time.perf_counter() - started
        self._buffer.append(pcm)

    def snapshot(self) -> None:
        """Vosk decodes as audio arrives: at the endpoint little is left to do."""

    def finish(self, use_snapshot: bool = False) -> Transcript:
        started = time.perf_counter()
        result = json.loads(self._recogniser.FinalResult())
        self._recogniser.Reset()
        decode_s = self._decode_s + time.perf_counter() - started
        self._decode_s = 0.0
        audio_s = self._buffer.seconds
        self._last = self._buffer.take()
        return _transcript(result, audio_s, decode_s, dictation=False)

    def dictate(self) -> Transcript | None:
        if not self._engine._dictation or not self._last:
            return None
        started = time.perf_counter()
        free = vosk.KaldiRecognizer(self._engine.model, _RATE)
        free.SetWords(True)
        free.AcceptWaveform(self._last)
        result = json.loads(free.FinalResult())
        return _transcript(result, len(self._last) / 32000, time.perf_counter() - started, dictation=True)

    def reset(self) -> None:
        self._recogniser.Reset()
        self._buffer.take()
        self._last = b""
        self._decode_s = 0.0

    def close(self) -> None:
        self.reset()
        self._engine.release(self)


def _transcript(result: dict, audio_s: float, decode_s: float, dictation: bool) -> Transcript:  # type: ignore[type-arg]
    alternatives = result.get("alternatives")
    if alternatives:
        readings = [str(a.get("text", "")) for a in alternatives]
        # With alternatives Vosk reports a total score, not a 0..1 confidence: the text counts.
        return Transcript(readings[0], 1.0 if readings[0] else 0.0, audio_s, decode_s, dictation, tuple(readings[1:]))
    words = [w for w in result.get("result", []) if w.get("word") != "[unk]"]
    text = " ".join(w["word"] for w in result.get("result", [])) if "result" in result else result.get("text", "")
    confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words) if words else 0.0
    return Transcript(text, min(1.0, max(0.0, confidence)), audio_s, decode_s, dictation)
