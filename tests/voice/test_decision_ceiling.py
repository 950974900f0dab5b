"""bench/voice_decision.py's ceiling: what no decision over the passes can beat. It counts an
utterance as reachable where any reading (the grammar pass's sentence, the open pass's fuzzy or
key-word reading) is the said intent with its slots, whatever the decision chose."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ceiling() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    from _decision_fit import ceiling

    return ceiling


def record(intent: str | None, grammar: str, confidence: float, open_text: str | None, slots: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": "en-x-01", "split": "dev", "wav": None, "intent": intent, "slots": slots or {}, "text": grammar,
        "confidence": confidence, "gap": 2.0, "snr": 30.0, "audio_s": 2.0, "decode_s": 0.1,
        "open": None if open_text is None else {"text": open_text, "confidence": 1.0, "gap": 1.0},
    }


def test_a_right_reading_the_decision_did_not_choose_still_counts(ceiling: Any) -> None:
    # The grammar pass heard another intent; only the open pass (run: the grammar pass was unsure) heard it right.
    other_pass_right = record("GetOpeningHours", "what offers do you have", 0.5, "what are your opening hours")
    assert ceiling([other_pass_right])["in_domain_any_reading_right"] == 1.0
    assert ceiling([other_pass_right])["in_domain_grammar_sentence_right"] == 0.0


def test_wrong_readings_a_wrong_slot_and_an_unrun_open_pass_do_not(ceiling: Any) -> None:
    nothing_right = record("GetOpeningHours", "what offers do you have", 0.5, "what offers do you have")
    wrong_slot = record("WhereIsProduct", "where is the milk", 1.0, None, {"product": "bread"})
    # A sure grammar sentence of an ordinary intent: the gateway never runs the open pass, so its
    # right words are no reading the decision could have had.
    open_not_run = record("GetOpeningHours", "what offers do you have", 1.0, "what are your opening hours")
    figures = ceiling([nothing_right, wrong_slot, open_not_run])
    assert figures["in_domain"] == 3 and figures["in_domain_any_reading_right"] == 0.0


def test_off_topic_utterances_count_as_reachable_by_rejecting(ceiling: Any) -> None:
    off_topic = record(None, "what are your opening hours", 1.0, None)
    in_domain = record("GetOpeningHours", "what are your opening hours", 1.0, None)
    assert ceiling([off_topic, in_domain]) == {
        "files": 2, "in_domain": 1, "in_domain_any_reading_right": 1.0, "in_domain_grammar_sentence_right": 1.0, "ceiling_accuracy": 1.0,
    }
