"""Issue 15, text coverage: German word order, case and inflection, and the key words' synonyms
(skills/*.py, nlu/keywords.py). Phrasings written for these tests, not taken from any corpus;
off-topic German near misses must stay rejected, and effectful intents from key words alone are
still only asked back."""

from __future__ import annotations

import pytest

from tests.support.understanding import judged


def _judged(lang: str, text: str) -> tuple[str | None, bool]:
    """The intent acted on (or None) and whether the guard asked back."""
    result = judged(lang, text)
    return result.intent, result.asked


@pytest.mark.parametrize("text, intent", [
    # CallStaff: verb at the end, the person in nominative, accusative, dative; where to come
    ("könnte bitte eine mitarbeiterin herkommen", "CallStaff"),
    ("können sie mal einen kollegen holen", "CallStaff"),
    ("schicken sie bitte einen verkäufer zur kasse", "CallStaff"),
    ("ich würde gern mit einem angestellten reden", "CallStaff"),
    ("ich bräuchte mal unterstützung von einer verkäuferin", "CallStaff"),
    ("ein mitarbeiter soll bitte in gang sieben kommen", "CallStaff"),
    ("verkäuferin bitte", "CallStaff"),
    # ForgetMe: informal imperative, passive, verb-final
    ("entfern bitte mein kundenprofil", "ForgetMe"),
    ("meine einkaufsdaten sollen gelöscht werden", "ForgetMe"),
    ("ich hätte gern dass mein konto endgültig gelöscht wird", "ForgetMe"),
    ("nehmen sie mich aus ihrer kundendatei raus", "ForgetMe"),
    ("vergesst bitte alles über mich", "ForgetMe"),
    ("ich möchte mein kundenkonto kündigen", "ForgetMe"),
    ("schließen sie bitte mein konto", "ForgetMe"),
    # GetPointsBalance: the wish, verb-final; how far the points go
    ("ich würde gerne meine treuepunkte erfahren", "GetPointsBalance"),
    ("wie hoch ist mein punktestand gerade", "GetPointsBalance"),
    # GetOpeningHours: the separable verb's halves, holidays
    ("sperrt ihr samstags früher zu", "GetOpeningHours"),
    ("habt ihr an ostern auf", "GetOpeningHours"),
    ("ab wann habt ihr morgen offen", "GetOpeningHours"),
    # GetOffers: compounds and other words for a price cut
    ("welche tagesangebote gibt es diese woche", "GetOffers"),
    ("was ist im prospekt", "GetOffers"),
    # Help: the speaker as a thing, how to talk to it
    ("wofür ist dieses gerät", "Help"),
    ("wie spreche ich mit dir", "Help"),
    # WhatDoYouKnow: what of mine is kept
    ("wird meine stimme gespeichert", "WhatDoYouKnow"),
    ("wird hier alles aufgezeichnet", "WhatDoYouKnow"),
])
def test_german_wordings_are_understood(text: str, intent: str) -> None:
    assert _judged("de", text)[0] == intent


@pytest.mark.parametrize("text", [
    "ruf bitte meinen mann an", "hol mal den wagen", "schick mir das foto", "der chef hat heute frei",
    "ich möchte mit meiner schwester reden", "kommt mal her kinder", "lösch die einkaufsliste",
    "mein handy soll gelöscht werden", "vergiss den schlüssel nicht", "wann macht die sparkasse auf",
    "hat der bäcker am feiertag auf", "was läuft heute im kino", "macht die tür zu", "wie rede ich mit meinem chef",
    "meine stimme ist heiser", "wie weit ist es zum bahnhof", "wann kommt der zug",
])
def test_german_near_misses_stay_rejected(text: str) -> None:
    assert _judged("de", text)[0] is None


@pytest.mark.parametrize("text", ["mein profil bitte tilgen", "kollegen bitte schicken", "meine mitgliedschaft würde ich gern auflösen"])
def test_effectful_from_key_words_is_only_asked_back(text: str) -> None:
    """No sentence parses these: the key words find the effectful intent, and the guard only asks."""
    acted, asked = _judged("de", text)
    assert acted is None and asked


@pytest.mark.parametrize("text, intent", [
    ("what time do you lock up on sundays", "GetOpeningHours"),
    ("are you open on easter monday", "GetOpeningHours"),
    ("any multibuy offers on", "GetOffers"),
    ("what is this machine for", "Help"),
    ("is my voice being recorded", "WhatDoYouKnow"),
])
def test_english_text_key_words(text: str, intent: str) -> None:
    assert _judged("en", text)[0] == intent


@pytest.mark.parametrize("text", ["when does the bank open on easter monday", "what is this thing on the floor", "my voice is gone"])
def test_english_near_misses_stay_rejected(text: str) -> None:
    assert _judged("en", text)[0] is None
