"""Is this short utterance the wake phrase? Its words aligned to the audio against a free phone loop.

A one-sentence grammar always "recognises" its sentence, so the decision is how well it fits:
the phrase's acoustic score beside the best score any phone sequence gets on the same audio
(a garbage model), per frame, over the whole utterance and word by word. "hey touch base" fits
"hey touch" well and "gate" badly: the worst word catches what the average hides. Word durations
must be plausible too (the decoder squeezes a missing word into a few frames).

Offline, with the English model inside the pocketsphinx wheel (PocketSphinx's own keyphrase search,
tried first, is no use here: docs/voice.md, "The wake stage").
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pocketsphinx

from gateway.wyoming.dictionary import pronunciations

_PHRASE = "wake"
_PHONES = "phones"
_SILENCE_PROB = 0.005  # PocketSphinx's default -silprob
# Word segments of an FSG search report acoustic scores without PocketSphinx's senone-score
# shift (10 bits) that the phone loop's segments and every hypothesis score carry (measured:
# the words' sum over 1024 equals the hypothesis score less its fixed word penalties).
_FSG_SEGMENT_SCALE = 1024.0
_DITHER = 64  # ±64 of 32768, uniform: about -60 dBFS
# Hesitations a customer may lead with ("er, hey touch gate"): allowed before the phrase only.
_HESITATIONS = ("uh", "um", "er")


class WakePhraseError(ValueError):
    """A wake phrase the recogniser cannot listen for."""


@dataclass(frozen=True)
class WakeFit:
    """How the phrase fits an utterance: gaps are log-score per frame (×1000) behind the phone loop."""

    matched: bool  # the grammar search reached the end of the phrase
    gap: float  # over the phrase's frames
    worst_word_gap: float  # the word that fits worst
    shortest_phone_frames: float  # the shortest word's frames per phone
    longest_phone_frames: float  # the longest word's frames per phone (a word stretched over several)
    inner_pause_frames: int = 0  # the longest silence the grammar put between two of the phrase's words
    # The shortest phone after the first, over the phrase's mean phone (phone alignment: measured
    # only once everything else accepts; None when not measured or PocketSphinx's aligner failed).
    shortest_phone_share: float | None = None

    @staticmethod
    def no_match() -> WakeFit:
        return WakeFit(False, math.inf, math.inf, 0.0, math.inf)


class WakeModel:
    """The phrase's dictionary and grammar, shared by every satellite's verifier (read-only)."""

    def __init__(self, phrase: str) -> None:
        words = phrase.split()
        lines = pronunciations(set(words) | set(_HESITATIONS))
        unknown = sorted(set(words) - lines.keys())
        if unknown:
            raise WakePhraseError(f"not in PocketSphinx's English dictionary: {', '.join(unknown)}")
        self.phrase = phrase
        self.words = words
        # Phones per word, from its first pronunciation (for the duration check).
        self.phones = {word: len(lines[word][0].split()) - 1 for word in words}
        self._dictionary = tempfile.NamedTemporaryFile("w", prefix="touchgate-wake-", suffix=".dict", encoding="utf-8")
        for word in sorted(lines):
            self._dictionary.write("\n".join(lines[word]) + "\n")
        self._dictionary.flush()
        # The phrase as a chain of states 0..n; the start state may take one hesitation first
        # (the voice part's FSGs do the same: `nlu/wordgraph.fsg_transitions`).
        hesitations = [word for word in _HESITATIONS if word in lines]
        n = len(words)
        self.fsg_start, self.fsg_final = n + 1, n
        lead = 1.0 / (1 + len(hesitations))
        self.fsg_transitions = [(self.fsg_start, 1, lead, words[0])] + [(self.fsg_start, 0, lead, h) for h in hesitations]
        self.fsg_transitions += [(i, i + 1, 1.0, word) for i, word in enumerate(words)]

    @property
    def dictionary(self) -> str:
        return self._dictionary.name


class WakeVerifier:
    """One decoder (per satellite stream; used from one thread at a time)."""

    def __init__(self, model: WakeModel) -> None:
        self._model = model
        self._decoder = _decoder(model)
        self._decoder.add_allphone_file(_PHONES, None)
        # A second decoder for phone alignment, built on first use (about 6 MB more per satellite):
        # aligning in the fitting decoder changed later fits of other utterances (measured: 46 of
        # 48 refits differed).
        self._aligner: pocketsphinx.Decoder | None = None

    def fit(self, pcm: bytes) -> WakeFit:
        pcm = _dither(pcm)
        phrase = self._decode(_PHRASE, pcm)
        if phrase is None:
            return WakeFit.no_match()
        words = [seg for seg in phrase if _base(seg.word) in self._model.phones]
        if [_base(seg.word) for seg in words] != self._model.words:
            return WakeFit.no_match()
        phones = self._decode(_PHONES, pcm)
        if phones is None:
            return WakeFit.no_match()
        loop = _per_frame(phones, self._decoder.n_frames())
        gaps = [_gap(loop, seg) for seg in words]
        frames = sum(seg.end_frame - seg.start_frame + 1 for seg in words)
        total = sum(gap * (seg.end_frame - seg.start_frame + 1) for gap, seg in zip(gaps, words, strict=True)) / frames
        per_phone = [(seg.end_frame - seg.start_frame + 1) / self._model.phones[_base(seg.word)] for seg in words]
        first, last = words[0].start_frame, words[-1].end_frame
        pauses = [seg.end_frame - seg.start_frame + 1 for seg in phrase if seg.word == "<sil>" and first < seg.start_frame and seg.end_frame < last]
        return WakeFit(True, round(total, 3), round(max(gaps), 3), round(min(per_phone), 2), round(max(per_phone), 2), max(pauses, default=0))

    def with_phone_share(self, pcm: bytes, fit: WakeFit) -> WakeFit:
        """`fit` with its shortest phone's share of the mean (a phone alignment of the phrase: about
        twice a fit's cost, so only for utterances that pass everything else). "hey can I pay"
        forced onto the phrase squeezes "ch" or the last "t" to 3 frames of a 12-frame mean; the
        phrase said by the tuning voices never went below 0.39 (72 trials)."""
        if self._aligner is None:
            self._aligner = _decoder(self._model)
        aligner, pcm = self._aligner, _dither(pcm)
        try:
            aligner.activate_search(_PHRASE)
            _process(aligner, pcm)
            if aligner.hyp() is None:
                return fit
            aligner.set_alignment()
            _process(aligner, pcm)
            durations = [phone.duration for word in aligner.get_alignment() if _base(word.name) in self._model.phones for phone in word]
        except RuntimeError:
            # PocketSphinx's aligner fails on some utterances ("Failed to stop utterance
            # processing"; about one in four on the tuning data) and leaves the decoder unusable
            # for the next: rebuilt, and this utterance judged without the check.
            self._aligner = None
            return fit
        if len(durations) < 2:
            return fit
        mean = sum(durations) / len(durations)
        return dataclasses.replace(fit, shortest_phone_share=round(min(durations[1:]) / mean, 3))

    def _decode(self, search: str, pcm: bytes) -> list[pocketsphinx.Segment] | None:
        decoder = self._decoder
        decoder.activate_search(search)
        _process(decoder, pcm)
        if decoder.hyp() is None:
            return None
        return list(decoder.seg())


def _decoder(model: WakeModel) -> pocketsphinx.Decoder:
    """A decoder with the phrase's grammar (`_PHRASE`) active."""
    hmm = os.path.join(pocketsphinx.get_model_path(), "en-us", "en-us")
    # Batch CMN: each utterance is normalised on its own, so one decoder serves a whole stream
    # and the same audio scores (nearly always) the same, whatever came before: re-decoding 392
    # tuning utterances that had matched the phrase, right after other searches, lost 2 matches.
    decoder = pocketsphinx.Decoder(hmm=hmm, dict=model.dictionary, lm=None, cmn="batch", loglevel="FATAL")
    try:
        grammar = decoder.create_fsg(_PHRASE, model.fsg_start, model.fsg_final, model.fsg_transitions)
    except (RuntimeError, ValueError) as exc:
        raise WakePhraseError(f"PocketSphinx refused the phrase: {exc}") from exc
    grammar.add_silence("<sil>", -1, _SILENCE_PROB)  # around and between the words
    decoder.add_fsg(_PHRASE, grammar)
    decoder.activate_search(_PHRASE)
    return decoder


def _process(decoder: pocketsphinx.Decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, False, True)
    decoder.end_utt()


def _base(word: str) -> str:
    """`the(2)` → `the`: a pronunciation variant is the same word."""
    return word.split("(")[0]


def _per_frame(segments: list[pocketsphinx.Segment], n_frames: int) -> np.ndarray:
    """The phone loop's acoustic log score spread evenly over each phone's frames."""
    scores = np.zeros(max(n_frames, 1))
    for seg in segments:
        length = seg.end_frame - seg.start_frame + 1
        if length > 0:
            scores[seg.start_frame : seg.end_frame + 1] = _log(seg.ascore) / length
    return scores


def _gap(loop: np.ndarray, word: pocketsphinx.Segment) -> float:
    """How much worse per frame (log score ×1000) the word fits its frames than the phone loop."""
    length = word.end_frame - word.start_frame + 1
    return (float(loop[word.start_frame : word.end_frame + 1].sum()) - _log(word.ascore) / _FSG_SEGMENT_SCALE) * 1000 / length


def _log(score: float) -> float:
    """The Python API gives acoustic scores exponentiated: back to logs."""
    return math.log(max(score, 1e-300))


def _dither(pcm: bytes) -> bytes:
    """About -60 dBFS of seeded noise (a quiet microphone's own): PocketSphinx's features of
    digital silence, or of the voice part's -80 dBFS dither, lost the whole phrase once half a
    second of it came before or after (measured on the tuning voices: 24 of 48 pad lengths
    decoded at -80 dBFS, 48 of 48 at -60)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    noise = np.random.default_rng(len(pcm)).integers(-_DITHER, _DITHER + 1, size=samples.size, dtype=np.int32)
    return np.clip(samples + noise, -32768, 32767).astype("<i2").tobytes()

