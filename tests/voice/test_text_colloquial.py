"""Issue 15, text as people say it in a shop (session 9, read from the blind3 tuning set's
failures for general gaps; the phrasings here are written for this test, not copied from it):
colloquial English (address terms, "d'you", clitics), German compounds whose last word only
looks like a product, "ich find … nicht", southern German forms; and the precision that must not
be lost: off-topic speech stays rejected, effectful intents from key words are only asked back."""

from __future__ import annotations

import pytest

from tests.support.understanding import judged


@pytest.mark.parametrize("lang, text, intent, slots", [
    # address terms and colloquial forms carry no request
    ("en", "any deals on this week, mate?", "GetOffers", {}),
    ("en", "d'you know when you shut tonight, love", "GetOpeningHours", {}),
    ("en", "which way's the butter, yeah?", "WhereIsProduct", {"product": "butter"}),
    ("en", "reckon you've got any vouchers going", "GetOffers", {}),
    ("en", "what's my points total at the moment", "GetPointsBalance", {}),
    ("en", "is the milk in the fridges at the back", "WhereIsProduct", {"product": "milk"}),
    ("en", "who do you share what i say with", "WhatDoYouKnow", {}),
    # clitics: known where the word before the apostrophe is
    ("de", "wann sperrt's ihr am samstag zu", "GetOpeningHours", {"day": "saturday"}),
    ("de", "wie schaut's mit meinem bonuskonto aus", "GetPointsBalance", {}),
    # not finding a product is asking where it is
    ("de", "ich find den zucker nicht", "WhereIsProduct", {"product": "sugar"}),
    # southern forms and separable verbs
    ("de", "grüezi, wo händ ihr käse", "WhereIsProduct", {"product": "cheese"}),
    ("de", "wie lange bewahrt ihr meine aufnahmen auf", "WhatDoYouKnow", {}),
    ("de", "macht ihr über mittag zu", "GetOpeningHours", {}),
    ("de", "habt ihr gutscheine diese woche", "GetOffers", {}),
    # a compound whose head is a product still names it
    ("de", "wo steht das vollkornbrot", "WhereIsProduct", {"product": "bread"}),
])
def test_colloquial_wordings_are_understood(lang: str, text: str, intent: str, slots: dict[str, str]) -> None:
    result = judged(lang, text)
    assert (result.intent, result.slots) == (intent, slots)


@pytest.mark.parametrize("lang, text", [
    # German words ending in a product's name that are not that product (NOT_HEADS)
    ("de", "wann ist die weihnachtsfeier"),
    ("de", "wo ist hier ein geldautomat"),
    ("de", "gibt es hier geldautomaten"),
    ("de", "das schwein auf dem schild ist lustig"),
    ("de", "wo ist der kreisverkehr"),
    # "nicht" still vetoes a product outside "find … nicht"
    ("de", "vergiss den käse nicht"),
    ("de", "wie lange bewahrt man käse auf"),
    ("de", "wann gehen wir einkaufen"),
    ("de", "ich finde meinen schlüssel nicht"),
    # other shops, other menus, other machines
    ("en", "what time does the bank open, mate"),
    ("en", "what's on the menu tonight, love"),
    ("en", "how to use a self checkout"),
    ("en", "i'll let my manager know tomorrow"),
    ("en", "cheers mate"),
])
def test_colloquial_near_misses_stay_rejected(lang: str, text: str) -> None:
    assert judged(lang, text).intent is None


@pytest.mark.parametrize("lang, text", [
    ("de", "tu mein profil weg"),
    ("de", "meine daten sollen verschwinden"),
    ("de", "ich will nicht mehr gespeichert werden"),
    ("en", "get rid of my details, love"),
])
def test_erasure_from_key_words_is_only_asked_back(lang: str, text: str) -> None:
    result = judged(lang, text)
    assert result.intent is None and result.asked
