"""Issue 15, English coverage of the effectful intents: how people ask for a member of staff and
for erasure (questions, polite requests, fragments, synonyms; skills/staff.py, skills/privacy.py).
Phrasings written for these tests, not taken from any corpus. They are understood by a sentence,
at full confidence, so the guard acts on them; near misses with the same words (a brother to
call, photos to delete, keys forgotten) stay rejected or are at most asked back."""

from __future__ import annotations

import pytest

from gateway.voice.effects import EffectGuard
from gateway.voice.nlu.keywords import TEMPLATE_NAME
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import build_intent_model

SETTINGS = VoiceSettings()
MATCHER = build_intent_model(SETTINGS, "en")[0].matcher


def _judged(text: str) -> tuple[str | None, bool]:
    """The intent acted on (or None) and whether the guard asked back."""
    acted, ask = EffectGuard(SETTINGS.guard).check("s", "en", MATCHER.match_text(text, None, SETTINGS.guard.max_skips), MATCHER)
    return (acted.intent if acted is not None else None), ask is not None


STAFF = [
    "can someone come and help me", "could somebody come over here please", "is there anyone working here",
    "is anybody around", "i need an assistant", "get me a member of staff", "could you send somebody over",
    "could you send a colleague to aisle four", "can an employee give me a hand", "excuse me is anyone available",
    "i'd like a shop assistant please", "can i get some help over here", "i need assistance at the checkout",
    "could you fetch someone who works here", "can i talk to somebody who works here", "would someone help me out",
    "send a member of staff to the till", "help needed at the counter", "anybody working here",
    "is there someone i can ask", "someone to help me please",
]
ERASURE = [
    "delete everything you have on me", "remove my account", "i don't want you to keep my data",
    "wipe my details", "erase my profile", "please erase all my personal information", "could you remove my customer account",
    "i want my details deleted", "i'd like my profile gone", "i do not want you storing my information anymore",
    "i would like to be forgotten", "i want you to forget who i am", "forget everything you know about me",
    "i need to delete my loyalty account", "take me off your system", "delete me from your database",
    "can you wipe all of my records", "remove any data you hold on me", "i withdraw my consent",
    # closing the account is ending the membership: erasure, which the skill still confirms first
    "i want to close my account", "could you please close my loyalty account",
]


@pytest.mark.parametrize(("text", "intent"), [(t, "CallStaff") for t in STAFF] + [(t, "ForgetMe") for t in ERASURE])
def test_ways_of_asking_for_staff_or_erasure_are_understood_by_a_sentence(text: str, intent: str) -> None:
    match = MATCHER.match_text(text, None, SETTINGS.guard.max_skips)
    assert match is not None and match.intent == intent and match.template != TEMPLATE_NAME, match
    assert _judged(text) == (intent, False)


@pytest.mark.parametrize("text", [
    "call my brother tonight", "delete the photos on my phone", "i forgot my keys", "i forgot my keys at home",
    "forget about the weather", "forget it", "the staff were very friendly", "call me a taxi",
    "is there anyone who can call me a taxi", "can you send me the receipt", "could you get me a basket",
    "someone here stole my bag", "i need to remove my coat", "can you remove the security tag", "wipe the floor please",
    "clear my basket", "delete my shopping list", "erase the board", "the manager is nice", "anyone seen my wife",
])
def test_near_misses_do_not_act(text: str) -> None:
    """Never acted on as an effectful intent; an effectful reading may at most be asked back."""
    acted, _ = _judged(text)
    assert acted not in MATCHER.effectful


@pytest.mark.parametrize("text", [
    "call my brother tonight", "delete the photos on my phone", "i forgot my keys", "the staff were very friendly",
    "wipe the floor please", "delete my shopping list", "could you get me a basket",
])
def test_near_misses_are_not_even_asked_back(text: str) -> None:
    assert _judged(text) == (None, False)


@pytest.mark.parametrize(("text", "intent"), [("please cancel my membership", "ForgetMe"), ("what time do you close", "GetOpeningHours")])
def test_closing_an_account_is_never_read_as_a_question_of_closing_time(text: str, intent: str) -> None:
    """"close" is a key word of opening hours; beside "account" or "membership" it is erasure,
    found by key words when no sentence has the wording, and then only asked back."""
    match = MATCHER.match_text(text, None, SETTINGS.guard.max_skips)
    assert match is not None and match.intent == intent
    if intent == "ForgetMe":
        assert _judged(text) == (None, True)
