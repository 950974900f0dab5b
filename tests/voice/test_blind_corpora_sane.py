"""Integrity of the corpora written blind to the sentences: the tuning sets blind2 and blind3
(tests/data/voice_tuning/) and the second held-out corpus (tests/data/voice_heldout2/).

Shape and labels only, never the recogniser: a wrong label or a slot that is not a catalogue id
would teach the sentences something false (tuning) or make the held-out figures lie; the
held-out corpus's items are never compared with what the recogniser does.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.corpora import LANGS, ROOT, Utterance, catalogue_ids, load_utterances


@dataclass(frozen=True)
class Spec:
    path: Path
    header: tuple[str, ...]  # what the lines before `utterances:` must say
    prefix: str  # ids are "<prefix>-<lang>-…"
    max_words: int
    product_asked: int  # each catalogue product is asked for at least this often per language
    counts: dict[str | None, int] | None = None  # exact utterances per intent (None: off-topic) per language
    min_tags: dict[str, int] = field(default_factory=dict)  # least off-topic lines per tag, per language
    near_miss_share: float = 0.0  # least share of the off-topic lines that are near misses
    speakable: bool = False  # no digits, no padding: rendered to audio


def _counts(**per_intent: int) -> dict[str | None, int]:
    off_topic = per_intent.pop("none")
    return {**per_intent, None: off_topic}


SPECS = {
    "blind2": Spec(ROOT / "tests/data/voice_tuning/blind2.yaml", ("# TUNING set 2 (blind)",), "t2", 14, 2, near_miss_share=1 / 3),
    "blind3": Spec(
        ROOT / "tests/data/voice_tuning/blind3.yaml", ("# TUNING set 3 (blind)", "# Written "), "t3", 14, 1,
        _counts(GetOpeningHours=24, WhereIsProduct=42, GetOffers=24, GetPointsBalance=24, CallStaff=24, ForgetMe=24,
                WhatDoYouKnow=24, Help=24, none=90),
        {"near-miss": 25, "other-shop": 6, "unknown-product": 6, "half-sentence": 6},
    ),
    "heldout2": Spec(
        ROOT / "tests/data/voice_heldout2/utterances.yaml", ("HELD-OUT", "NEVER", "2026-12-04"), "h2", 12, 1,
        _counts(GetOpeningHours=16, WhereIsProduct=28, GetOffers=16, GetPointsBalance=16, CallStaff=16, ForgetMe=16,
                WhatDoYouKnow=16, Help=16, none=60),
        {"near-miss": 18, "other-shop": 4, "unknown-product": 4, "half-sentence": 4}, speakable=True,
    ),
}
MIN_OFF_TOPIC_SHARE = 0.30


@pytest.fixture(scope="module", params=sorted(SPECS))
def corpus(request: pytest.FixtureRequest) -> tuple[Spec, list[Utterance]]:
    spec = SPECS[request.param]
    return spec, load_utterances(spec.path)


def test_header_says_what_the_corpus_is(corpus: tuple[Spec, list[Utterance]]) -> None:
    spec, _ = corpus
    header = spec.path.read_text(encoding="utf-8").split("utterances:", 1)[0]
    assert [words for words in spec.header if words not in header] == []


def test_ids_are_unique_and_prefixed(corpus: tuple[Spec, list[Utterance]]) -> None:
    spec, utterances = corpus
    counts = Counter(u.id for u in utterances)
    assert [i for i, n in counts.items() if n > 1] == []
    assert [u.id for u in utterances if not u.id.startswith(f"{spec.prefix}-{u.lang}-")] == []


def test_texts_are_short_and_not_repeated(corpus: tuple[Spec, list[Utterance]]) -> None:
    spec, utterances = corpus
    assert [u.id for u in utterances if not 1 <= len(u.text.split()) <= spec.max_words] == []
    if spec.speakable:
        assert [u.id for u in utterances if re.search(r"\d", u.text) or u.text != u.text.strip()] == []
    repeated = Counter((u.lang, u.text.lower()) for u in utterances)
    assert [key for key, n in repeated.items() if n > 1] == []


def test_slots_match_their_intent(corpus: tuple[Spec, list[Utterance]]) -> None:
    """WhereIsProduct carries exactly one catalogue id; every other intent carries no slot."""
    _, utterances = corpus
    ids = catalogue_ids()
    wrong = [
        u.id for u in utterances
        if (u.intent == "WhereIsProduct" and (set(u.slots) != {"product"} or u.slots["product"] not in ids))
        or (u.intent != "WhereIsProduct" and u.slots != {})
    ]
    assert wrong == []


def test_tags_only_on_off_topic(corpus: tuple[Spec, list[Utterance]]) -> None:
    assert [u.id for u in corpus[1] if u.tags and u.intent is not None] == []


@pytest.mark.parametrize("lang", LANGS)
def test_counts_products_and_off_topic(corpus: tuple[Spec, list[Utterance]], lang: str) -> None:
    spec, utterances = corpus
    in_lang = [u for u in utterances if u.lang == lang]
    if spec.counts is not None:
        assert dict(Counter(u.intent for u in in_lang)) == spec.counts
    asked = Counter(u.slots["product"] for u in in_lang if u.intent == "WhereIsProduct")
    assert {pid for pid in catalogue_ids() if asked[pid] < spec.product_asked} == set()
    off_topic = [u for u in in_lang if u.intent is None]
    assert len(off_topic) / len(in_lang) >= MIN_OFF_TOPIC_SHARE
    tags = Counter(tag for u in off_topic for tag in u.tags)
    assert {tag: n for tag, n in spec.min_tags.items() if tags[tag] < n} == {}
    assert tags["near-miss"] >= spec.near_miss_share * len(off_topic)
