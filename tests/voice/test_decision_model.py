"""The calibrated decision's model file (gateway/voice/engines/decision.yaml): validated at start,
a malformed one stops the gateway with the file, line and field; and what it decides between
the two passes, on readings made up here (the audio side is tests/voice/test_accuracy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config.problems import ConfigError
from gateway.voice.engines.base import Transcript
from gateway.voice.effects import EffectGuard
from gateway.voice.engines.decision import DEFAULT_MODEL, FEATURES, DecisionModel, candidates, load_decision
from gateway.voice.engines.factory import load_engine
from gateway.voice.nlu import keywords
from gateway.voice.settings import GuardSettings, VoiceSettings
from gateway.voice.skillset import build_intent_model
from gateway.voice.understand import match_transcript

MODEL = load_decision(DEFAULT_MODEL)
MATCHER = build_intent_model(VoiceSettings())[0].matcher


def committed() -> dict[str, object]:
    data = yaml.safe_load(DEFAULT_MODEL.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def committed_keys() -> list[str]:
    return list(committed())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "decision.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_model_carries_its_recipe_and_what_it_was_trained_on() -> None:
    assert "bench/voice_decision.py" in MODEL.recipe and "test split is not used" in MODEL.recipe
    assert MODEL.trained_on.get("tuning", 0) > 100 and MODEL.trained_on.get("dev", 0) > 100


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d.update(weights=d["weights"][:-1]), "weights", "values for"),  # type: ignore[index]
        (lambda d: d["scales"].__setitem__(2, 0.0), "scales", "> 0"),  # type: ignore[index]
        (lambda d: d["weights"].__setitem__(3, "heavy"), "weights[3]", "number"),  # type: ignore[index]
        (lambda d: d["features"].__setitem__(0, "moon_phase"), "features", "unknown"),  # type: ignore[index]
        (lambda d: d.update(version=2), "version", "1"),
        (lambda d: d.update(threshold=0.5), "threshold", "not permitted"),
        (lambda d: d.pop("intercept"), "intercept", "required"),
    ],
)
def test_a_malformed_model_names_file_line_and_field(tmp_path: Path, change: object, field: str, words: str) -> None:
    data = committed()
    change(data)  # type: ignore[operator]
    text = yaml.safe_dump(data, sort_keys=False)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_decision(path)
    problem = info.value.problems[0]
    assert problem.file == str(path) and problem.field == field and words in problem.message, problem
    if field != "intercept":  # a missing key has no line of its own
        assert problem.line is not None, problem
        line = text.splitlines()[problem.line - 1]
        assert line.startswith(f"{field}:") or ("[" in field and "heavy" in line), (problem, line)


def test_broken_yaml_and_a_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_decision(write(tmp_path, "version: 1\nfeatures: [both\n"))
    assert info.value.problems[0].line is not None
    with pytest.raises(ConfigError, match="cannot read"):
        load_decision(tmp_path / "absent.yaml")


def test_the_gateway_does_not_start_on_a_malformed_model(tmp_path: Path) -> None:
    data = committed()
    data["means"] = data["means"][:3]  # type: ignore[index]
    settings = VoiceSettings.model_validate({"pocketsphinx": {"decision_model": str(write(tmp_path, yaml.safe_dump(data)))}})
    model, _ = build_intent_model(settings)
    with pytest.raises(ConfigError) as info:
        load_engine(settings, model)
    assert info.value.problems[0].field == "means"


def heard(
    grammar: str, grammar_gap: float | None, open_text: str, open_gap: float | None, snr: float = 40.0, grammar_confidence: float = 1.0,
) -> Transcript:
    fallback = Transcript(open_text, 1.0, 2.0, 0.0, dictation=True, phone_gap=open_gap) if open_text else None
    confidence = grammar_confidence if grammar else 0.0
    return Transcript(grammar, confidence, 2.0, 0.0, fallback=fallback, grammar_pass=True, phone_gap=grammar_gap, snr_db=snr)


def test_agreement_and_a_good_fit_make_a_reading_surer() -> None:
    agreeing = match_transcript(MATCHER, heard("where is the milk", 1.5, "where is the milk", 0.8), None, 0.0, decision=MODEL)
    alone = match_transcript(MATCHER, heard("where is the milk", 1.5, "", None), None, 0.0, decision=MODEL)
    forced = match_transcript(MATCHER, heard("where is the milk", 4.5, "", None), None, 0.0, decision=MODEL)
    assert agreeing is not None and alone is not None and forced is not None
    assert agreeing.intent == alone.intent == forced.intent == "WhereIsProduct"
    assert agreeing.confidence > alone.confidence > forced.confidence


def test_one_candidate_per_reading_and_none_without_one() -> None:
    both = candidates(MATCHER, heard("where is the milk", 1.5, "where is the milk", 0.8), None, 2)
    assert len(both) == 1 and both[0].features["both"] == 1.0
    different = candidates(MATCHER, heard("where is the milk", 1.5, "what are your opening hours", 0.8), None, 2)
    assert {c.match.intent for c in different} == {"WhereIsProduct", "GetOpeningHours"}
    assert all(c.features["disagree"] == 1.0 for c in different)
    assert match_transcript(MATCHER, heard("", None, "my grandmother plays the violin", 1.0), None, 0.0, decision=MODEL) is None


def test_the_open_pass_read_by_key_words_is_one_more_candidate_or_agreement() -> None:
    """'any coupons this week' parses as no sentence, not even fuzzily: only a model fitted with
    key-word readings gets it, as a candidate of its own or as the grammar pass's confirmation."""
    alone = heard("", None, "any coupons this week", 1.0)
    assert candidates(MATCHER, alone, None, 2) == []
    [read] = candidates(MATCHER, alone, None, 2, keywords=True)
    assert read.match.intent == "GetOffers" and read.match.template == keywords.TEMPLATE_NAME
    assert read.features["keywords"] == 1.0 and read.features["open_only"] == 1.0
    [confirmed] = candidates(MATCHER, heard("what offers do you have", 1.5, "any coupons this week", 1.0), None, 2, keywords=True)
    assert confirmed.match.intent == "GetOffers" and confirmed.features["keywords_agree"] == 1.0 and confirmed.features["keywords"] == 0.0
    assert MODEL.reads_keywords  # the shipped model weighs it (the open pass hears customers' wordings)


@pytest.mark.parametrize("said", ["delete everything about me", "could you bring a manager over"])
def test_an_effectful_intent_from_key_words_alone_is_asked_back_never_acted_on(said: str) -> None:
    """Even with effect guards relaxed to one pass (effectful_needs_both off) and a model sure of
    every reading: at most asked back. The fitted model is not that sure: rejected."""
    guard = GuardSettings(effectful_needs_both=False)
    sure_of_all = MODEL.model_copy(update={"intercept": 50.0})
    outcomes = []
    for model in (MODEL, sure_of_all):
        match = match_transcript(MATCHER, heard("", None, said, 0.5, snr=60.0), None, 0.0, guard.passes(), model)
        assert match is not None and match.intent in MATCHER.effectful and match.template == keywords.TEMPLATE_NAME
        acted, ask = EffectGuard(guard).check("s1", "en", match, MATCHER)
        assert acted is None, match
        outcomes.append((match.confidence, ask is not None))
    assert outcomes[1] == (keywords.CEILING, True), outcomes  # capped, then asked back


@pytest.mark.parametrize(("grammar", "open_text"), [
    ("would you please wipe my profile", "i want you to wipe my profile"),  # blind3's "what info is on my profile"
    ("call a staff member", "call a staff member"),
])
def test_a_sentence_forced_onto_the_audio_is_no_second_hearing_for_an_action(grammar: str, open_text: str) -> None:
    """Both passes name the effectful intent, but the grammar pass's sentence fits the audio
    worse than its phone-loop limit (confidence 0: forced). Even a model sure of every reading
    only asks back; the same readings with an unforced sentence act."""
    sure_of_all = MODEL.model_copy(update={"intercept": 50.0})
    guard = GuardSettings()
    outcomes = {}
    for confidence in (0.0, 1.0):
        match = match_transcript(MATCHER, heard(grammar, 1.0, open_text, 0.5, grammar_confidence=confidence), None, 0.0, guard.passes(), sure_of_all)
        assert match is not None and match.intent in MATCHER.effectful
        acted, ask = EffectGuard(guard).check("s1", "en", match, MATCHER)
        outcomes[confidence] = ("acted" if acted is not None else "asked" if ask is not None else "rejected")
    assert outcomes == {0.0: "asked", 1.0: "acted"}


def test_probabilities_stay_probabilities_for_extreme_features() -> None:
    extreme = {name: 1e6 for name in MODEL.features}
    assert 0.0 <= MODEL.probability(extreme) <= 1.0
    assert isinstance(MODEL, DecisionModel)


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=4), st.sampled_from(list(FEATURES))), max_size=14),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from([*committed_keys(), "extra"]), _VALUES, min_size=1, max_size=4))
def test_any_hostile_model_file_loads_or_is_refused_with_a_config_error(tmp_path: Path, changes: dict[str, object]) -> None:
    """Fields of the committed model replaced by anything YAML can hold: it loads (and gives
    probabilities) or stops with a ConfigError naming the file; never another exception."""
    data = {**committed(), **changes}
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    try:
        model = load_decision(path)
    except ConfigError as error:
        assert all(problem.file == str(path) for problem in error.problems)
    else:
        assert 0.0 <= model.probability(dict.fromkeys(model.features, 1.0)) <= 1.0


@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=len(MODEL.features), max_size=len(MODEL.features)))
def test_any_finite_features_give_a_probability(values: list[float]) -> None:
    assert 0.0 <= MODEL.probability(dict(zip(MODEL.features, values))) <= 1.0
