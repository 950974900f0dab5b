"""Customers' wordings in the open pass's language model (gateway/voice/nlu/wordings.py,
skills/data/wordings.en.txt): read, weighted, in the model and the dictionary, and generated from
the tuning corpora only. What it buys on audio is measured in bench/voice_decision.py
(docs/voice.md); here: that it is wired and that its words reach the key words."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.voice.engines.base import Transcript
from gateway.voice.engines.decision import DEFAULT_MODEL, load_decision
from gateway.config.problems import ConfigError
from gateway.voice.engines.factory import grammar_source, load_engine
from gateway.voice.engines.pocketsphinx_engine import open_model
from gateway.voice.nlu.expand import GrammarSource
from gateway.voice.nlu.wordings import read_wordings, sayable, weighted
from gateway.voice.settings import PocketSphinxSettings, VoiceSettings
from gateway.voice.skillset import build_intent_model
from gateway.voice.understand import match_transcript

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "skills" / "data" / "wordings.en.txt"


def test_lines_are_read_as_the_matcher_reads_them_and_unsayable_ones_left_out_whole(tmp_path: Path) -> None:
    path = tmp_path / "wordings.txt"
    path.write_text("# a comment\n\nGot any BARGAINS?  # trailing comment\nwhere's the quinoa\num, when d'you shut\n", encoding="utf-8")
    can_say = {"got", "any", "bargains", "where's", "the", "when", "d'you", "shut"}
    assert sayable(read_wordings(path), can_say.__contains__) == [["got", "any", "bargains"], ["when", "d'you", "shut"]]


@pytest.mark.parametrize(("share", "copies"), [(0.5, 10), (0.25, 3), (0.0, 0)])
def test_wordings_take_their_share_of_the_counts(share: float, copies: int) -> None:
    samples = [["a"]] * 20
    out = weighted(samples, [["x"], ["y"]], share)
    assert out[:20] == samples and out[20:].count(["x"]) == copies and len(out) == 20 + 2 * copies


def _source() -> GrammarSource:
    return grammar_source(build_intent_model(VoiceSettings(), "en")[0])


def test_the_model_gains_the_wordings_words_and_word_pairs() -> None:
    settings = PocketSphinxSettings()
    plain = open_model(_source(), settings)
    grown = open_model(_source(), settings, [["is", "the", "loo", "free"]])
    unigrams = lambda arpa: {line.split()[1] for line in arpa.split("\\1-grams:")[1].split("\\2-grams:")[0].strip().splitlines()}  # noqa: E731
    assert "loo" not in unigrams(plain) and {"loo", "free"} <= unigrams(grown)
    assert " the loo" in grown.split("\\2-grams:")[1] and " loo free" in grown.split("\\2-grams:")[1]


def test_the_shipped_file_is_generated_from_the_tuning_corpora_only() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_open_wordings import SOURCES, wordings

    assert all((ROOT / "tests" / "data" / "voice_tuning" / name).is_file() for name in SOURCES)
    assert not any("heldout" in name for name in SOURCES)
    lines = [line for line in SHIPPED.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert lines == wordings("en"), "regenerate: .venv/bin/python scripts/gen_open_wordings.py"
    assert PocketSphinxSettings().open_wordings == SHIPPED


def test_an_off_topic_wording_the_open_pass_can_now_hear_is_rejected_by_the_key_words() -> None:
    """Words only the wordings have ("forgot", "wallet") are unknown to the key words: an open
    pass that hears them gives no erasure, where one restricted to the sentences' words would
    have forced the audio onto sentence words."""
    model, _ = build_intent_model(VoiceSettings(), "en")
    decision = load_decision(DEFAULT_MODEL)
    said = Transcript("", 0.0, 2.0, 0.0, fallback=Transcript("i forgot my wallet", 1.0, 2.0, 0.0, dictation=True, phone_gap=0.5), grammar_pass=True, snr_db=40.0)
    assert match_transcript(model.matcher, said, None, 0.0, decision=decision) is None
    vocabulary = {w for line in SHIPPED.read_text(encoding="utf-8").splitlines() if not line.startswith("#") for w in line.split()}
    assert {"forgot", "wallet"} <= vocabulary


@pytest.mark.parametrize("content", [None, b"\xff\xfe not utf-8 \x80"])
def test_a_wordings_file_that_cannot_be_read_stops_the_start_naming_file_and_setting(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "wordings.txt"
    if content is not None:
        path.write_bytes(content)
    settings = VoiceSettings()
    settings = settings.model_copy(update={"pocketsphinx": settings.pocketsphinx.model_copy(update={"open_wordings": path})})
    model, _ = build_intent_model(settings, "en")
    with pytest.raises(ConfigError) as raised:
        load_engine(settings, model)
    [problem] = raised.value.problems
    assert problem.file == str(path) and problem.field == "voice.pocketsphinx.open_wordings" and "cannot read" in problem.message


def test_counted_pairs_give_a_pair_said_once_its_share_not_an_equal_one() -> None:
    """Without counts every pair after a word is alike, so one wording's "where is it" was as
    likely as the sentences' "where is the" (the open pass heard "where is the milk" as "where
    is it we'll get"); with counts it gets what it was said."""
    from gateway.voice.nlu.wordpairs import to_arpa

    follows = {"<s>": {"where"}, "where": {"is"}, "is": {"the", "it"}, "the": {"</s>"}, "it": {"</s>"}}
    counts = {("is", "the"): 98, ("is", "it"): 1}

    def prob(arpa: str, pair: str) -> float:
        return next(float(line.split()[0]) for line in arpa.split("\\2-grams:")[1].splitlines() if line.endswith(f" {pair}"))

    alike, counted = to_arpa(follows), to_arpa(follows, pair_counts=counts)
    assert prob(alike, "is the") == prob(alike, "is it")
    assert prob(counted, "is the") - prob(counted, "is it") == pytest.approx(math.log10(99 / 2), abs=1e-3)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.text(max_size=60), max_size=12))
def test_any_text_in_a_wordings_file_is_read_or_left_out_never_a_crash(tmp_path: Path, lines: list[str]) -> None:
    """Hostile lines (any unicode, control characters, lone apostrophes, comment marks): every
    utterance kept has only words the recogniser can say, none is empty, and the model builds."""
    path = tmp_path / "hostile.txt"
    path.write_text("\n".join(line.replace("\r", " ") for line in lines), encoding="utf-8")
    can_say = {"where", "is", "the", "milk", "open"}.__contains__
    kept = sayable(read_wordings(path), can_say)
    assert all(line and all(can_say(w) for w in line) for line in kept)
    assert "\\3-grams:" in open_model(_source(), PocketSphinxSettings(open_samples_per_template=10), kept)
