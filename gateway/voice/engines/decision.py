"""The calibrated decision over PocketSphinx's two passes: which reading of an utterance to take
and how sure it is, as a probability of being right learnt from audio instead of hand-set factors.

Each distinct intent (with its slots) that either pass found is a candidate; a small logistic
model over what both passes measured (agreement, their phone-loop gaps, words the fuzzy matcher
skipped, the sentence's length, the utterance's duration and speech-to-background level) gives
each candidate the probability that it is what was said; the likeliest is the answer, with that
probability as its confidence. The guard (nlu/guard.py) then acts, asks back or rejects on it.
A model that names the `keywords` features also gets the open pass's words read by the skills'
key words (nlu/keywords.py) as one more candidate; the shipped one does, since the open pass
learnt customers' own wordings (nlu/wordings.py; before, it could only hear sentence words and
the reading accepted more off-topic audio: docs/voice.md, "The calibrated decision").

The coefficients are data (`decision.yaml` beside this module), fitted by bench/voice_decision.py
on the tuning set's audio and the held-out corpus's dev split (never its test split); the file
carries its recipe. It is validated at start: a malformed file stops the gateway with the file,
line and field.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from gateway.config.problems import ConfigError, ConfigProblem, problems_from_validation
from gateway.config.yamlpos import YamlLoadError, parse_yaml
from gateway.voice.engines.base import ReadingModel, Transcript
from gateway.voice.nlu import keywords as kw
from gateway.voice.nlu.match import IntentMatch, Matcher

DEFAULT_MODEL = Path(__file__).with_name("decision.yaml")

# Gaps beyond this (log score per frame x1000) mean the same: words forced onto the audio.
MAX_GAP = 8.0
MAX_SNR_DB = 60.0

# What the model may weigh, per candidate (a model file names the ones it uses, in its order).
FEATURES = (
    "both",  # both passes heard this intent with these slots
    "open_only",  # only the open pass heard it
    "disagree",  # the passes heard different intents (this is one of them)
    "grammar_gap",  # the grammar pass's sentence against the phone loop (0 where there is none)
    "no_grammar_gap",  # the grammar pass gave no sentence, or it could not be measured
    "open_gap",  # the open pass's words aligned alone, against the phone loop
    "no_open_gap",  # no open pass, or its words could not be aligned
    "candidate_gap",  # the better gap of the passes that heard this candidate
    "skipped",  # open-pass words the fuzzy matcher left unexplained for this candidate
    "words",  # words of the candidate's sentence (short ones are forced onto noise more easily)
    "log_audio_s",  # the utterance's duration
    "snr",  # speech over background, dB / 10
    # Read only by a model that names them (a model without them gets no key-word candidates):
    "keywords",  # the open pass's words read as customers word things (key words, polite wrappers), not a sentence
    "keywords_agree",  # that reading of the open pass names the grammar pass's intent with its slots
)
# A model naming this feature also gets the open pass's text read by the key-word fallback.
KEYWORD_FEATURE = "keywords"


class DecisionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    recipe: str = Field(min_length=1, description="how the coefficients were made (data, command, date)")
    features: tuple[str, ...] = Field(min_length=1)
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    trained_on: dict[str, int] = Field(default_factory=dict, description="utterances per data set")
    figures: dict[str, float | int | None] = Field(default_factory=dict, description="what it measured when fitted")

    @field_validator("features")
    @classmethod
    def _known(cls, features: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown features {unknown}; known: {', '.join(FEATURES)}")
        if len(set(features)) != len(features):
            raise ValueError("a feature is named twice")
        return features

    @field_validator("means", "scales", "weights")
    @classmethod
    def _one_per_feature(cls, values: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        features = info.data.get("features")
        if features is not None and len(values) != len(features):
            raise ValueError(f"{len(values)} values for {len(features)} features")
        if not all(math.isfinite(v) for v in values):
            raise ValueError("values must be finite numbers")
        if info.field_name == "scales" and any(v <= 0 for v in values):
            raise ValueError("scales must be > 0")
        return values

    @field_validator("intercept")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @property
    def reads_keywords(self) -> bool:
        """Fitted with the open pass's key-word readings: candidates() should offer them."""
        return KEYWORD_FEATURE in self.features

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.intercept + sum(w * (values[f] - m) / s for f, m, s, w in zip(self.features, self.means, self.scales, self.weights))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def load_decision(path: Path) -> DecisionModel:
    """The model file, validated; ConfigError naming the file, line and field where it is not."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(file=str(path), message=f"cannot read the decision model: {exc.strerror or exc}")]) from exc
    try:
        doc = parse_yaml(text, str(path))
    except YamlLoadError as exc:
        raise ConfigError([ConfigProblem(file=str(path), line=exc.line, message=exc.message)]) from exc
    if not isinstance(doc.data, dict):
        raise ConfigError([ConfigProblem(file=str(path), line=1, message="the decision model must be a mapping")])
    try:
        return DecisionModel.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, doc, path)) from exc


@dataclass(frozen=True, slots=True)
class Candidate:
    match: IntentMatch
    features: dict[str, float]
    # The grammar pass's part in it was a sentence forced onto the audio (a phone-loop gap past
    # max_phone_gap: confidence 0). Weighed like any gap for the probability, but no evidence
    # for an action: "what info is on my profile" was forced onto "would you please wipe my
    # profile" while the open pass heard "i want you to wipe my profile" (blind3 audio).
    forced: bool = False


def _key(match: IntentMatch) -> tuple[str, frozenset[tuple[str, object]]]:
    return match.intent, frozenset((s.name, s.value) for s in match.slots)


def _gap(value: float | None) -> tuple[float, float]:
    """(the gap clipped to [0, MAX_GAP], 1.0 where there is none)."""
    return (0.0, 1.0) if value is None else (min(max(value, 0.0), MAX_GAP), 0.0)


def _text_reading(matcher: Matcher, text: str, fuzzy: IntentMatch | None, intent_filter: list[str] | None) -> IntentMatch | None:
    """The open pass's words read as typed text (Matcher.match_text: wrappers stripped, then the
    key words and written-only names) where that finds another reading than the strict fuzzy
    match; None where it adds nothing. A whole-sentence fuzzy match is all match_text would say."""
    if fuzzy is not None and fuzzy.confidence >= 1.0:
        return None
    reading = matcher.match_beyond(text, fuzzy, intent_filter)
    if reading is None or (fuzzy is not None and _key(reading) == _key(fuzzy)):
        return None
    return reading


def _unexplained(reading: IntentMatch) -> float:
    """Words a key-word reading left unexplained (each cost keywords.UNKNOWN_COST of its CEILING)."""
    if reading.template != kw.TEMPLATE_NAME:
        return round((1.0 - reading.confidence) * len(reading.tokens))
    return round(max(0.0, kw.CEILING - reading.confidence) / kw.UNKNOWN_COST)


def candidates(
    matcher: Matcher, transcript: Transcript, intent_filter: list[str] | None, max_skips: int, keywords: bool = False,
) -> list[Candidate]:
    """Every distinct reading the passes heard, with what the model weighs for it. With
    `keywords`, the open pass's words are also read as customers word things (one more
    candidate, or agreement with the grammar pass's)."""
    grammar = matcher.match(transcript.text, intent_filter) if transcript.text else None
    fallback = transcript.fallback
    fuzzy = matcher.match(fallback.text, intent_filter, max_skips) if fallback is not None and fallback.text else None
    text = _text_reading(matcher, fallback.text, fuzzy, intent_filter) if keywords and fallback is not None and fallback.text else None
    text_agrees = text is not None and grammar is not None and _key(text) == _key(grammar)
    grammar_gap, no_grammar_gap = _gap(transcript.phone_gap if grammar is not None else None)
    open_gap, no_open_gap = _gap(fallback.phone_gap if fallback is not None else None)
    common = {
        "grammar_gap": grammar_gap, "no_grammar_gap": no_grammar_gap, "open_gap": open_gap, "no_open_gap": no_open_gap,
        "log_audio_s": math.log(max(transcript.audio_s, 0.1)), "snr": min(max(transcript.snr_db or 0.0, 0.0), MAX_SNR_DB) / 10,
        "disagree": float(grammar is not None and fuzzy is not None and _key(grammar) != _key(fuzzy)),
    }
    forced = transcript.confidence <= 0.0
    found: list[Candidate] = []
    for match, heard_by_grammar in ((grammar, True), (fuzzy, False)):
        if match is None:
            continue
        both = grammar is not None and fuzzy is not None and _key(grammar) == _key(fuzzy)
        if both and not heard_by_grammar:
            continue  # one candidate for what both heard
        gaps = [g for g, heard, missing in ((grammar_gap, heard_by_grammar or both, no_grammar_gap), (open_gap, not heard_by_grammar or both, no_open_gap)) if heard and not missing]
        skipped = 0.0 if heard_by_grammar and not both else round((1.0 - (fuzzy.confidence if fuzzy else 1.0)) * len(fuzzy.tokens if fuzzy else ()))
        found.append(Candidate(match, {
            **common, "both": float(both), "open_only": float(not heard_by_grammar), "candidate_gap": min(gaps) if gaps else MAX_GAP,
            "skipped": float(skipped), "words": float(len(match.tokens)), "keywords": 0.0, "keywords_agree": float(heard_by_grammar and text_agrees),
        }, forced=forced and (heard_by_grammar or both)))
    if text is not None and not text_agrees:
        found.append(Candidate(text, {
            **common, "both": 0.0, "open_only": 1.0, "candidate_gap": MAX_GAP if no_open_gap else open_gap,
            "skipped": float(_unexplained(text)), "words": float(len(text.tokens)), "keywords": 1.0, "keywords_agree": 0.0,
        }))
    return found


@dataclass(frozen=True, slots=True)
class OnePassAsk:
    """An effectful reading only one pass heard, at p >= `floor`, is put at `level` (the guard's
    ask-back band: at least min_confidence, below the effectful threshold): asked back, not
    rejected. Asking costs a yes/no; rejecting a real staff call or erasure request costs the
    customer (docs/voice.md, "The calibrated decision": the floor was chosen on dev + tuning)."""

    floor: float
    level: float


def decide(
    model: ReadingModel, found: Sequence[Candidate], effectful: Collection[str] = (), one_pass_cap: float = 1.0,
    one_pass_ask: OnePassAsk | None = None,
) -> IntentMatch | None:
    """The likeliest candidate, its probability of being right as its confidence. An effectful
    intent only one pass heard (or heard by the grammar pass only as a forced sentence) is at
    most `one_pass_cap` sure (below the effectful threshold:
    asked back, never acted on), and with `one_pass_ask` at least its ask-back level from the
    floor up. One read from key words alone is at most `keywords.CEILING` sure, whatever the
    settings: a request worded nowhere in the sentences never acts by itself."""
    best: IntentMatch | None = None
    best_one_pass = False
    for candidate in found:
        p = round(model.probability(candidate.features), 4)
        # Acting needs two independent hearings: a forced sentence is not one.
        one_pass = candidate.match.intent in effectful and (not candidate.features["both"] or candidate.forced)
        if one_pass:
            p = min(p, one_pass_cap)
        if candidate.match.intent in effectful and candidate.features["keywords"]:
            p = min(p, kw.CEILING)
        if best is None or p > best.confidence:
            best = IntentMatch(candidate.match.intent, candidate.match.tokens, candidate.match.slots, p, candidate.match.template)
            best_one_pass = one_pass
    # Lifted only after the choice: the likeliest reading is still the answer; the lift decides
    # what the guard does with it (ask back instead of reject), never that it is acted on.
    if best is not None and best_one_pass and one_pass_ask is not None and one_pass_ask.floor <= best.confidence < one_pass_ask.level:
        best = IntentMatch(best.intent, best.tokens, best.slots, one_pass_ask.level, best.template)
    return best
