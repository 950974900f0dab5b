"""PocketSphinx 5 with the English model inside its wheel, in two passes over each utterance.

The grammar pass searches a minimal word graph of the sentences (`nlu/wordgraph.py`, given to
PocketSphinx as an FSG) and accepts only whole sentences. Unless it is sure, an open-vocabulary
pass decodes the same audio with a language model of the sentences (`nlu/wordpairs.py`), whose
text the matcher matches fuzzily; `understand.py` lets the two passes check each other. Both are
measured against a free phone loop: how much worse than any phone sequence their words fit the
audio is the acoustic confidence.

Each utterance is decoded whole when it ends (`full_utt=True`): cepstral mean normalisation then
uses this utterance alone, so results do not drift with what the site heard before. Off-grammar
speech usually leaves the grammar search without a complete sentence, or with one that fits the
audio badly: it becomes "not recognised" rather than the nearest wrong intent.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np
import pocketsphinx

from gateway.voice.engines.base import EngineError, PcmBuffer, Transcript, grammar_words
from gateway.voice.engines.decision import load_decision
from gateway.voice.nlu.expand import GrammarSource, prune_grammar
from gateway.voice.nlu.wordgraph import build_word_graph, fsg_transitions
from gateway.voice.nlu.wordings import read_wordings, sayable, weighted
from gateway.voice.nlu.wordpairs import END, START, sample_sentences, to_arpa, trigram_arpa, word_pairs
from gateway.voice.settings import PocketSphinxSettings

_SEARCH = "touchgate"
_PHONES = "phones"
_OPEN = "open"
_VERIFY = "verify"
_FILTERED = "filtered"
_MAX_FILTERED = 16  # word graphs of intent filters kept (a filter is usually one question's answers)
_MAX_SPARES = 2
# Hesitations the grammar pass lets a sentence begin with (the matcher drops them again).
_HESITATIONS = frozenset({"uh", "um", "er", "hmm"})
_SILENCE_PROB = 0.005  # PocketSphinx's default -silprob


def _read_dictionary(path: Path, wanted: set[str]) -> dict[str, list[str]]:
    """word → its dictionary lines (the first pronunciation and variants such as `what(2)`),
    for the wanted words only (the whole dictionary in Python objects would cost ~60 MB)."""
    entries: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            word = line[: line.find(" ")].split("(")[0]
            if word in wanted:
                entries.setdefault(word, []).append(line.rstrip("\n"))
    return entries


def _model_paths() -> tuple[str, str, str]:
    base = os.path.join(pocketsphinx.get_model_path(), "en-us")
    return os.path.join(base, "en-us"), os.path.join(base, "cmudict-en-us.dict"), os.path.join(base, "en-us.lm.bin")


def open_model(source: GrammarSource, settings: PocketSphinxSettings, wordings: list[list[str]] | None = None) -> str:
    """The open pass's language model (ARPA): word pairs of the sentences, and with
    `open_order` 3 the trigrams of sampled sentences over them; customers' `wordings`
    (nlu/wordings.py) add their word pairs and a share of the trigram counts."""
    pairs = word_pairs(source.templates, source.rules, source.lists)
    for words in wordings or ():
        for a, b in zip([START, *words], [*words, END]):
            pairs.setdefault(a, set()).add(b)
    if settings.open_order == 2:
        return to_arpa(pairs, settings.open_backoff_mass)
    sentences = sample_sentences(source.templates, source.rules, source.lists, settings.open_samples_per_template)
    sentences = weighted(sentences, wordings or [], settings.open_wordings_share)
    return trigram_arpa(sentences, pairs, settings.open_backoff_mass, counted_pairs=bool(wordings) and settings.open_counted_pairs)


class PocketSphinxEngine:
    name = "pocketsphinx"

    def __init__(
        self, source: GrammarSource, settings: PocketSphinxSettings, dictation: bool = True, needs_agreement: Callable[[str], bool] | None = None
    ) -> None:
        self._settings = settings
        # Whether a grammar-pass sentence must be checked by the open pass even when the grammar
        # pass is sure of it (effectful intents: understand.py acts on them only where both
        # passes heard them). Without it, every sentence is.
        self._needs_agreement = needs_agreement
        self._dictation = dictation
        self.min_confidence = settings.min_posterior
        self.max_phone_gap = settings.max_phone_gap
        self.sure_phone_gap = settings.sure_phone_gap
        self.sure_open_gap = settings.sure_open_gap
        self.max_open_gap = settings.max_open_gap
        # Validated before any decoder is built: a malformed model stops the start with its
        # file, line and field (ConfigError).
        self.decision = load_decision(settings.decision_model) if settings.decision_model is not None and settings.grammar_pass else None
        _, full_dictionary, _ = _model_paths()
        said = read_wordings(settings.open_wordings) if settings.open_pass and settings.open_wordings is not None else []
        pronunciations = _read_dictionary(Path(full_dictionary), grammar_words(source) | _HESITATIONS | {w for line in said for w in line})
        pruned = prune_grammar(source.templates, source.rules, source.lists, lambda w: w in pronunciations)
        if not pruned.templates:
            raise EngineError("no sentence of the skills can be said with the PocketSphinx English dictionary")
        self.unknown_words = pruned.unknown_words
        # The grammar pass searches a minimal word graph of the sentences (nlu/wordgraph.py):
        # PocketSphinx's own JSGF expansion of the same sentences took 2-20 s per utterance.
        hesitations = _HESITATIONS & pronunciations.keys()
        self._pruned, self._hesitations = pruned, hesitations
        self._filtered: dict[frozenset[str], tuple[int, int, list[tuple[int, int, float, str]]] | None] = {}
        graph = build_word_graph(pruned.templates, pruned.rules, pruned.lists)
        self.fsg_start, self.fsg_final, self.fsg_transitions = fsg_transitions(graph, hesitations)
        # A dictionary of the grammar's words only: each decoder loads it, and the full one
        # (135k words) would cost ~25 MB and ~60 ms per decoder.
        self._dictionary = tempfile.NamedTemporaryFile("w", prefix="touchgate-", suffix=".dict", encoding="utf-8")
        wordings = sayable(said, pronunciations.__contains__)
        for word in sorted(grammar_words(pruned) | hesitations | {w for line in wordings for w in line}):
            for line in pronunciations[word]:
                self._dictionary.write(line + "\n")
        self._dictionary.flush()
        self._open_lm: tempfile._TemporaryFileWrapper[str] | None = None
        if settings.open_pass or not settings.grammar_pass:
            self._open_lm = tempfile.NamedTemporaryFile("w", prefix="touchgate-", suffix=".arpa", encoding="utf-8")
            self._open_lm.write(open_model(pruned, settings, wordings))
            self._open_lm.flush()
        self._lock = threading.Lock()
        try:
            self._spares: list[pocketsphinx.Decoder] = [self._finish_decoder(self._bare_decoder())]
        except (RuntimeError, ValueError) as exc:
            raise EngineError(f"PocketSphinx refused the grammar: {exc}") from exc
        self._dictation_decoder: pocketsphinx.Decoder | None = None
        self._dictation_lock = threading.Lock()

    def _bare_decoder(self) -> pocketsphinx.Decoder:
        hmm, _, _ = _model_paths()
        s = self._settings
        return pocketsphinx.Decoder(
            hmm=hmm, dict=self._dictionary.name, lm=None, beam=s.beam, wbeam=s.wbeam, pbeam=s.pbeam, lw=s.language_weight,
            # The lattice (bestpath rescoring) is what a posterior needs; building it after every
            # search was 3/4 of the grammar pass's time, so without `lattice` or a posterior
            # threshold the backtrace gives the sentence (settings: the accuracy it costs).
            bestpath=s.lattice or s.min_posterior > 0, loglevel="FATAL",
        )

    def _finish_decoder(self, decoder: pocketsphinx.Decoder) -> pocketsphinx.Decoder:
        if self._settings.grammar_pass:
            grammar = decoder.create_fsg(_SEARCH, self.fsg_start, self.fsg_final, self.fsg_transitions)
            # Silence may come between any two words and around the sentence, as in the FSGs
            # PocketSphinx's JSGF compiler makes.
            grammar.add_silence("<sil>", -1, _SILENCE_PROB)
            decoder.add_fsg(_SEARCH, grammar)
        if self.max_phone_gap is not None:
            decoder.add_allphone_file(_PHONES, None)
        if self._open_lm is not None:
            decoder.add_lm_file(_OPEN, self._open_lm.name)
        return decoder

    def fresh_decoder(self) -> pocketsphinx.Decoder:
        """A decoder that has heard nothing yet. PocketSphinx carries cepstral-mean state from one
        utterance to the next (and the Python API cannot reset it), so the same words decoded
        after different ones give different results; a fresh decoder per utterance makes
        recognition repeatable. Building one takes ~70 ms, so a spare is built after each turn."""
        with self._lock:
            if self._spares:
                return self._spares.pop()
        return self._finish_decoder(self._bare_decoder())

    def make_spare(self) -> None:
        with self._lock:
            if len(self._spares) >= _MAX_SPARES:
                return
        decoder = self._finish_decoder(self._bare_decoder())
        with self._lock:
            self._spares.append(decoder)

    @property
    def grammar_pass(self) -> bool:
        return self._settings.grammar_pass

    def open_pass_wanted(self, sentence: str, grammar_confidence: float) -> bool:
        """The open pass runs only where the grammar pass is unsure: no sentence, a confidence
        below `open_pass_below`, or a sentence whose intent needs both passes to agree
        (`open_pass_always`: on every utterance). A sure grammar sentence of an ordinary intent
        is the answer without it: the open pass and its alignment were half a turn's decoding."""
        s = self._settings
        if self._open_lm is None:
            return False
        if not s.grammar_pass or s.open_pass_always or not sentence or grammar_confidence < s.open_pass_below:
            return True
        return self._needs_agreement is None or self._needs_agreement(sentence)

    def recogniser(self, intents: Collection[str] | None = None) -> PocketSphinxRecogniser:
        """A recogniser for one utterance after another; with `intents` (a turn's intent filter:
        the answers to a question) its grammar pass searches only those intents' sentences."""
        return PocketSphinxRecogniser(self, frozenset(intents) if intents else None)

    def filtered_grammar(self, intents: frozenset[str]) -> tuple[int, int, list[tuple[int, int, float, str]]] | None:
        """The word graph of the sentences of `intents` only (built once per filter), or None
        where the filter keeps every sentence or none. In the whole grammar a short answer loses
        to longer sentences ("no thanks" was heard as "the opening times"); among the answers to
        the question it does not."""
        with self._lock:
            if intents in self._filtered:
                return self._filtered[intents]
        templates = [t for t in self._pruned.templates if t.intent in intents]
        grammar = None
        if templates and len(templates) < len(self._pruned.templates):
            grammar = fsg_transitions(build_word_graph(templates, self._pruned.rules, self._pruned.lists), self._hesitations)
        with self._lock:
            if len(self._filtered) >= _MAX_FILTERED:
                self._filtered.pop(next(iter(self._filtered)))
            self._filtered[intents] = grammar
        return grammar

    def dictate(self, pcm: bytes) -> str:
        """Open dictation with the wheel's English language model: one decoder shared by all sites
        (only off-grammar utterances need it, and it is the large part of the memory)."""
        if not self._dictation:
            return ""
        with self._dictation_lock:
            if self._dictation_decoder is None:
                hmm, dictionary, lm = _model_paths()
                self._dictation_decoder = pocketsphinx.Decoder(hmm=hmm, dict=dictionary, lm=lm, loglevel="FATAL")
            decoder = self._dictation_decoder
            decoder.start_utt()
            decoder.process_raw(pcm, False, True)
            decoder.end_utt()
            hyp = decoder.hyp()
            return hyp.hypstr if hyp is not None else ""


def _log(score: float) -> float:
    """The Python API gives scores exponentiated; back to logs (they never reach 0 for speech
    of a few seconds, but guard anyway)."""
    return math.log(max(score, 1e-300))


def _dither(pcm: bytes) -> bytes:
    """Add noise of about -80 dBFS. Stretches of digital zeros (noise-gated satellites, padded
    files) give PocketSphinx -inf log energies, and then it drops the utterance's last word
    (measured: "call a staff member" → "call a staff"); a real microphone never sends zeros.
    The generator is seeded, so the same audio always decodes the same way."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    noise = np.random.default_rng(len(pcm)).integers(-8, 9, size=samples.size, dtype=np.int32)
    return np.clip(samples + noise, -32768, 32767).astype("<i2").tobytes()


def _phone_loop_score(decoder: pocketsphinx.Decoder, pcm: bytes) -> float | None:
    phones = _decode(decoder, _PHONES, pcm)
    return _log(phones.score) if phones is not None else None


def _gap(phones: float | None, score: float, frames: int) -> float | None:
    """How much worse per frame (log score x1000) the words fit the audio than a free phone loop."""
    if phones is None or not frames:
        return None
    return round((phones - _log(score)) * 1000 / frames, 4)


def _fit(gap: float | None, sure_gap: float, max_gap: float | None) -> float:
    """Acoustic confidence of a hypothesis from its phone-loop gap: 1.0 up to `sure_gap`, falling
    to 0 at `max_gap` (beyond it the words were forced onto speech they do not describe)."""
    if max_gap is None:
        return 1.0
    if gap is None:
        return 0.0
    if gap <= sure_gap:
        return 1.0
    return round(max(0.0, (max_gap - gap) / (max_gap - sure_gap)), 4)


def snr_estimate(pcm: bytes) -> float:
    """Speech against background, dB: the loud 20 ms windows (90th percentile of energy) over the
    quiet ones (10th). Cheap (one pass of numpy over the utterance); babble at 10 dB gives ~10-15,
    clean speech with pauses 40+."""
    samples = np.frombuffer(pcm, dtype="<i2")
    usable = samples.size - samples.size % 320
    if usable < 320 * 5:
        return 0.0
    windows = samples[:usable].astype(np.float32).reshape(-1, 320)
    energy = np.log10(np.mean(windows * windows, axis=1) + 1.0) * 10
    low, high = np.percentile(energy, [10, 90])
    return round(float(high - low), 2)


def _aligned_gap(decoder: pocketsphinx.Decoder, text: str, pcm: bytes, phones: float | None) -> float | None:
    """The open pass's words, aligned alone to the audio (a one-sentence grammar: acoustics
    only, no language model in the score), against the free phone loop (None: they could not be
    aligned). The language model's own score would make rare but right sentences look forced."""
    decoder.add_jsgf_string(_VERIFY, f"#JSGF V1.0;\ngrammar verify;\npublic <s> = {text};\n")
    try:
        aligned = _decode(decoder, _VERIFY, pcm)
        if aligned is None or aligned.hypstr != text:
            return None
        return _gap(phones, aligned.score, decoder.n_frames())
    finally:
        decoder.remove_search(_VERIFY)


def _decode(decoder: pocketsphinx.Decoder, search: str, pcm: bytes) -> pocketsphinx.Hypothesis | None:
    decoder.activate_search(search)
    decoder.start_utt()
    decoder.process_raw(pcm, False, True)
    decoder.end_utt()
    return decoder.hyp()


class PocketSphinxRecogniser:
    def __init__(self, engine: PocketSphinxEngine, intents: frozenset[str] | None = None) -> None:
        self._engine = engine
        self._grammar = engine.filtered_grammar(intents) if intents and engine.grammar_pass else None
        self._buffer = PcmBuffer()
        self._last: bytes = b""
        self._snapshot: tuple[int, Transcript] | None = None

    def accept(self, pcm: bytes) -> None:
        self._buffer.append(pcm)

    def snapshot(self) -> None:
        pcm = self._buffer.peek()
        self._snapshot = (len(pcm), self._decode(pcm)) if pcm else None

    def finish(self, use_snapshot: bool = False) -> Transcript:
        audio_s = self._buffer.seconds
        snapshot, self._snapshot = self._snapshot, None
        pcm = self._buffer.take()
        if use_snapshot and snapshot is not None:
            # Only silence came after the snapshot: its result stands, decoded while we waited.
            size, transcript = snapshot
            self._last = pcm[:size]
            return dataclasses.replace(transcript, audio_s=audio_s)
        self._last = pcm
        return self._decode(pcm)

    def _decode(self, pcm: bytes) -> Transcript:
        audio_s = len(pcm) / 32000
        started = time.perf_counter()
        if not pcm:
            return Transcript("", 0.0, audio_s, 0.0)
        engine = self._engine
        decoder = engine.fresh_decoder()
        dithered = _dither(pcm)
        text, confidence, phones = "", 0.0, None
        search = _SEARCH
        if self._grammar is not None:
            start, final, transitions = self._grammar
            grammar = decoder.create_fsg(_FILTERED, start, final, transitions)
            grammar.add_silence("<sil>", -1, _SILENCE_PROB)
            decoder.add_fsg(_FILTERED, grammar)  # the decoder is this utterance's alone (fresh_decoder)
            search = _FILTERED
        hyp = _decode(decoder, search, dithered) if engine.grammar_pass else None
        gap = None
        if hyp is not None and hyp.hypstr and hyp.prob >= engine.min_confidence:
            text, confidence = hyp.hypstr, 1.0
            if engine.max_phone_gap is not None:
                phones = _phone_loop_score(decoder, dithered)
                gap = _gap(phones, hyp.score, decoder.n_frames())
                confidence = _fit(gap, engine.sure_phone_gap, engine.max_phone_gap)
        elif hyp is not None and hyp.hypstr:
            text = hyp.hypstr  # a sentence forced onto the audio: shown, never acted on
        fallback = None
        if engine.open_pass_wanted(text if confidence > 0 else "", confidence):
            open_hyp = _decode(decoder, _OPEN, dithered)
            if open_hyp is not None and open_hyp.hypstr:
                phones = phones if phones is not None else _phone_loop_score(decoder, dithered)
                open_gap = _aligned_gap(decoder, open_hyp.hypstr, dithered, phones)
                fit = _fit(open_gap, engine.sure_open_gap, engine.max_open_gap)
                fallback = Transcript(open_hyp.hypstr, fit, audio_s, 0.0, dictation=True, phone_gap=open_gap)
        return Transcript(
            text, confidence, audio_s, time.perf_counter() - started, fallback=fallback, grammar_pass=engine.grammar_pass,
            phone_gap=gap, snr_db=snr_estimate(pcm),
        )

    def dictate(self) -> Transcript | None:
        if not self._last:
            return None
        started = time.perf_counter()
        text = self._engine.dictate(self._last)
        return Transcript(text, 0.0, len(self._last) / 32000, time.perf_counter() - started, dictation=True)

    def reset(self) -> None:
        self._buffer.take()
        self._last = b""
        self._snapshot = None

    def close(self) -> None:
        """Called from the ASR pool after the turn: build the next spare decoders now, off the
        turn's critical path (a speculative decode may have used one more)."""
        self.reset()
        self._engine.make_spare()
        self._engine.make_spare()
