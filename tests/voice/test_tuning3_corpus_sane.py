"""Integrity of the third (blind) tuning corpus, tests/data/voice_tuning/blind3.yaml.

It checks labels and shape only, never the recogniser: the corpus is tuning data, and a wrong
label or a slot that is not a catalogue id would teach the templates something false.
"""

from collections import Counter
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "voice_tuning" / "blind3.yaml"
CATALOGUE = ROOT / "skills" / "data" / "catalogue.yaml"

Intent = Literal[
    "GetOpeningHours",
    "WhereIsProduct",
    "GetOffers",
    "GetPointsBalance",
    "CallStaff",
    "ForgetMe",
    "WhatDoYouKnow",
    "Help",
]
Tag = Literal["near-miss", "other-shop", "unknown-product", "half-sentence"]
LANGS = ("en", "de")
MAX_WORDS = 14
MIN_OFF_TOPIC_SHARE = 0.30
# Per language: the intended size of each intent (None: off-topic) and the least of each tag.
COUNTS: dict[str | None, int] = {
    "GetOpeningHours": 24,
    "WhereIsProduct": 42,
    "GetOffers": 24,
    "GetPointsBalance": 24,
    "CallStaff": 24,
    "ForgetMe": 24,
    "WhatDoYouKnow": 24,
    "Help": 24,
    None: 90,
}
MIN_TAGS = {"near-miss": 25, "other-shop": 6, "unknown-product": 6, "half-sentence": 6}
# libyaml when present: the pure-Python loader is slow on a busy Pi.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Utterance(BaseModel):
    """One corpus line; extra keys are forbidden so a typo ("intnet") cannot pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    lang: Literal["en", "de"]
    intent: Intent | None
    slots: dict[str, str]
    text: str
    tags: tuple[Tag, ...] = ()


@pytest.fixture(scope="module")
def utterances() -> list[Utterance]:
    raw = yaml.load(CORPUS.read_text(encoding="utf-8"), Loader=LOADER)
    return [Utterance.model_validate(item) for item in raw["utterances"]]


@pytest.fixture(scope="module")
def catalogue_ids() -> set[str]:
    products = yaml.load(CATALOGUE.read_text(encoding="utf-8"), Loader=LOADER)["products"]
    return {product["id"] for product in products}


def test_header_says_blind_tuning_set() -> None:
    head = CORPUS.read_text(encoding="utf-8").splitlines()[:2]
    assert head[0].startswith("# TUNING set 3 (blind)")
    assert head[1].startswith("# Written ")


def test_ids_are_unique_and_prefixed(utterances: list[Utterance]) -> None:
    counts = Counter(u.id for u in utterances)
    assert [i for i, n in counts.items() if n > 1] == []
    assert all(u.id.startswith(f"t3-{u.lang}-") for u in utterances)


def test_texts_are_short_and_not_repeated(utterances: list[Utterance]) -> None:
    too_long = [u.id for u in utterances if not 1 <= len(u.text.split()) <= MAX_WORDS]
    assert too_long == []
    repeated = Counter((u.lang, u.text.lower()) for u in utterances)
    assert [key for key, n in repeated.items() if n > 1] == []


def test_slots_match_their_intent(utterances: list[Utterance], catalogue_ids: set[str]) -> None:
    """WhereIsProduct carries exactly one catalogue id; every other intent carries no slot."""
    for u in utterances:
        if u.intent == "WhereIsProduct":
            assert set(u.slots) == {"product"}, u.id
            assert u.slots["product"] in catalogue_ids, u.id
        else:
            assert u.slots == {}, u.id


def test_tags_only_on_off_topic(utterances: list[Utterance]) -> None:
    assert [u.id for u in utterances if u.tags and u.intent is not None] == []


@pytest.mark.parametrize("lang", LANGS)
def test_counts_per_intent(utterances: list[Utterance], lang: str) -> None:
    counts = Counter(u.intent for u in utterances if u.lang == lang)
    assert dict(counts) == COUNTS


@pytest.mark.parametrize("lang", LANGS)
def test_every_product_is_asked_for(
    utterances: list[Utterance], catalogue_ids: set[str], lang: str
) -> None:
    asked = Counter(
        u.slots["product"] for u in utterances if u.lang == lang and u.intent == "WhereIsProduct"
    )
    assert {pid for pid in catalogue_ids if asked[pid] < 1} == set()


@pytest.mark.parametrize("lang", LANGS)
def test_off_topic_share_and_tags(utterances: list[Utterance], lang: str) -> None:
    in_lang = [u for u in utterances if u.lang == lang]
    off_topic = [u for u in in_lang if u.intent is None]
    assert len(off_topic) / len(in_lang) >= MIN_OFF_TOPIC_SHARE
    tags = Counter(tag for u in off_topic for tag in u.tags)
    assert {tag: n for tag, n in MIN_TAGS.items() if tags[tag] < n} == {}
