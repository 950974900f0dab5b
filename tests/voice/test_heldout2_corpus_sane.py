"""Integrity of the second held-out (blind) voice corpus, tests/data/voice_heldout2/utterances.yaml.

It checks shape and labels only, never the recogniser: the corpus is held out, so this test must not
print, compare or otherwise surface its items against what the recogniser does. A wrong label or a
slot that is not a catalogue id would make the held-out figures lie.
"""

import re
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "voice_heldout2" / "utterances.yaml"
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
MAX_WORDS = 12
MIN_OFF_TOPIC_SHARE = 0.30
# Exact number of utterances per intent (None: off-topic) in each language.
COUNTS: dict[str | None, int] = {
    "GetOpeningHours": 16,
    "WhereIsProduct": 28,
    "GetOffers": 16,
    "GetPointsBalance": 16,
    "CallStaff": 16,
    "ForgetMe": 16,
    "WhatDoYouKnow": 16,
    "Help": 16,
    None: 60,
}
PER_LANG = 200
# Minimum number of off-topic utterances carrying each tag, per language.
MIN_TAGS: dict[Tag, int] = {
    "near-miss": 18,
    "other-shop": 4,
    "unknown-product": 4,
    "half-sentence": 4,
}
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
    assert set(raw) == {"utterances"}
    return [Utterance.model_validate(item) for item in raw["utterances"]]


@pytest.fixture(scope="module")
def catalogue_ids() -> set[str]:
    products = yaml.load(CATALOGUE.read_text(encoding="utf-8"), Loader=LOADER)["products"]
    return {product["id"] for product in products}


def test_header_says_held_out() -> None:
    header = CORPUS.read_text(encoding="utf-8").split("utterances:", 1)[0]
    assert "HELD-OUT" in header
    assert "NEVER" in header
    assert "2026-12-04" in header


def test_ids_are_unique_and_prefixed(utterances: list[Utterance]) -> None:
    counts = Counter(u.id for u in utterances)
    assert [i for i, n in counts.items() if n > 1] == []
    assert [u.id for u in utterances if not u.id.startswith(f"h2-{u.lang}-")] == []


def test_texts_are_short_speakable_and_not_repeated(utterances: list[Utterance]) -> None:
    too_long = [u.id for u in utterances if not 1 <= len(u.text.split()) <= MAX_WORDS]
    assert too_long == []
    assert [u.id for u in utterances if re.search(r"\d", u.text)] == []
    assert [u.id for u in utterances if u.text != u.text.strip()] == []
    repeated = Counter((u.lang, u.text.lower()) for u in utterances)
    assert [key for key, n in repeated.items() if n > 1] == []


def test_slots_match_their_intent(utterances: list[Utterance], catalogue_ids: set[str]) -> None:
    """WhereIsProduct carries exactly one catalogue id; every other intent carries no slot."""
    wrong = []
    for u in utterances:
        if u.intent == "WhereIsProduct":
            if set(u.slots) != {"product"} or u.slots["product"] not in catalogue_ids:
                wrong.append(u.id)
        elif u.slots != {}:
            wrong.append(u.id)
    assert wrong == []


def test_tags_only_on_off_topic(utterances: list[Utterance]) -> None:
    assert [u.id for u in utterances if u.tags and u.intent is not None] == []


@pytest.mark.parametrize("lang", LANGS)
def test_counts_per_intent(utterances: list[Utterance], lang: str) -> None:
    in_lang = [u for u in utterances if u.lang == lang]
    assert len(in_lang) == PER_LANG
    assert dict(Counter(u.intent for u in in_lang)) == COUNTS


@pytest.mark.parametrize("lang", LANGS)
def test_every_product_is_asked_for(
    utterances: list[Utterance], catalogue_ids: set[str], lang: str
) -> None:
    asked = {
        u.slots["product"] for u in utterances if u.lang == lang and u.intent == "WhereIsProduct"
    }
    assert catalogue_ids - asked == set()


@pytest.mark.parametrize("lang", LANGS)
def test_off_topic_share_and_tags(utterances: list[Utterance], lang: str) -> None:
    in_lang = [u for u in utterances if u.lang == lang]
    off_topic = [u for u in in_lang if u.intent is None]
    assert len(off_topic) / len(in_lang) >= MIN_OFF_TOPIC_SHARE
    tags = Counter(tag for u in off_topic for tag in u.tags)
    assert {tag: n for tag, n in MIN_TAGS.items() if tags[tag] < n} == {}
