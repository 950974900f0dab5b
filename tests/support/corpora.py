"""The blind voice corpora's shape (tests/data/voice_tuning/blind*.yaml, tests/data/voice_heldout2/):
one line's model and the loaders, shared by their integrity test. Shape and labels only: nothing
here runs the recogniser, so a held-out corpus's items are never compared with what it does."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "skills" / "data" / "catalogue.yaml"
LANGS = ("en", "de")
# libyaml when present: the pure-Python loader takes about a second for a corpus on a busy Pi.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Intent = Literal["GetOpeningHours", "WhereIsProduct", "GetOffers", "GetPointsBalance", "CallStaff", "ForgetMe", "WhatDoYouKnow", "Help"]
Tag = Literal["near-miss", "other-shop", "unknown-product", "half-sentence"]


class Utterance(BaseModel):
    """One corpus line; extra keys are forbidden so a typo ("intnet") cannot pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    lang: Literal["en", "de"]
    intent: Intent | None
    slots: dict[str, str]
    text: str
    tags: tuple[Tag, ...] = ()


def load_utterances(corpus: Path) -> list[Utterance]:
    raw = yaml.load(corpus.read_text(encoding="utf-8"), Loader=LOADER)
    return [Utterance.model_validate(item) for item in raw["utterances"]]


def catalogue_ids() -> set[str]:
    products = yaml.load(CATALOGUE.read_text(encoding="utf-8"), Loader=LOADER)["products"]
    return {product["id"] for product in products}
