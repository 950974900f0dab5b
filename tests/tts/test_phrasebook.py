"""The phrasebook: reply templates read from a module's language → text constants (the voice
part's side, handed over through REPLY_TEMPLATES), their fixed openers cut at word boundaries,
and the longest opener a reply starts with."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from gateway.tts.phrasebook import Opening, Phrasebook
from gateway.voice.reply_texts import all_reply_templates, reply_templates


def module(**constants: object) -> ModuleType:
    made = ModuleType("replies_under_test")
    vars(made).update(constants)
    return made


def test_reads_language_mappings_and_one_level_of_nesting_only() -> None:
    replies = module(
        AISLE={"en": "You will find {name} in aisle {aisle}.", "de": "{name} finden Sie in Gang {aisle}."},
        ASK={"CallStaff": {"en": "Shall I call someone?"}},
        WEEKDAYS=("monday",),  # not a mapping
        LISTS={"weekday": {"en": ["monday"]}},  # lists of values, not texts
        CODES={"http": "x"},  # keys are not languages
        _PRIVATE={"en": "Never read."},
    )
    assert sorted(reply_templates(replies)) == [
        ("de", "{name} finden Sie in Gang {aisle}."),
        ("en", "Shall I call someone?"),
        ("en", "You will find {name} in aisle {aisle}."),
    ]


def test_openers_are_cut_before_the_first_slot_at_a_word() -> None:
    book = Phrasebook()
    for template in (
        "You will find {name} in aisle {aisle}.",
        "Especially for you: {offer}",
        "This erases everything we keep about you{points}. Say yes.",  # slot glued to "you"
        "{day}, we are open {hours}.",  # nothing fixed before the slot
        "On {day}",  # one word: not said on its own
        ", and a profile with {names}",  # a fragment, never the start of a reply
        "Today",
        "none",
        "Sorry, I don't know.",
    ):
        book.add_template("en", template)
    assert book.fixed["en"] == ["Today", "Sorry, I don't know."]
    assert book.openers["en"] == [
        "You will find", "Especially for you:", "This erases everything we keep about", "Today", "Sorry, I don't know.",
    ]
    # Openers first, shortest first; then fixed replies that are not openers already (none here).
    assert book.texts_to_prepare("en")[0] == "Today"
    assert set(book.texts_to_prepare("en")) == set(book.openers["en"])
    assert book.texts_to_prepare("de") == []


def test_a_reply_opens_with_the_longest_opener_ending_at_a_word() -> None:
    book = Phrasebook()
    for template in ("You have {points} points.", "You have no {thing}.", "Today", "Especially for you: {offer}"):
        book.add_template("en", template)
    assert book.opener_of("en", "You have 120 points.") == Opening("You have", "120 points.")
    assert book.opener_of("en", "You have no points.") == Opening("You have no", "points.")
    assert book.opener_of("en", "Today, we are open 8:00 to 20:00.") == Opening("Today", "we are open 8:00 to 20:00.")
    assert book.opener_of("en", "Especially for you: tea.") == Opening("Especially for you:", "tea.")
    assert book.opener_of("en", "You haven't any.") is None  # not at a word boundary
    assert book.opener_of("en", "Todays") is None
    assert book.opener_of("en", "Today.") is None  # nothing but punctuation after it
    assert book.opener_of("de", "You have 120 points.") is None  # per language


def test_the_built_in_skills_give_openers_for_their_templates() -> None:
    """Whatever the skills say today: every templated English reply with two fixed words before
    its first slot has an opener, and every opener opens a reply made from its own template."""
    from gateway.voice.settings import VoiceSettings

    book = Phrasebook()
    for language, template in all_reply_templates([*VoiceSettings().skills, "no.such.module"]):
        book.add_template(language, template)
    assert book.fixed["en"] and book.openers["en"]
    for opener in book.openers["en"]:
        assert book.opener_of("en", f"{opener} 42 things.") is not None


def test_no_built_in_reply_starts_with_its_slot() -> None:
    """A reply that starts with a slot has nothing to make ahead: on a slow CPU its first sound
    waits for the whole first part's synthesis. Every built-in template, in every language,
    starts with at least one fixed word."""
    from gateway.voice.settings import VoiceSettings

    starting_with_a_slot = [
        (language, template) for language, template in all_reply_templates(VoiceSettings().skills)
        if template.lstrip().startswith("{")
    ]
    assert starting_with_a_slot == []


async def test_the_voice_part_hands_its_replies_to_the_tts_phrasebook(tmp_path: Path) -> None:
    """Wiring: the TTS part offers its phrasebook (REPLY_TEMPLATES) and the voice part, built
    after it, hands over its skills' and its own reply templates before the tasks start."""
    from gateway.ports import REPLY_TEMPLATES
    from gateway.voice.effects import NOT_UNDERSTOOD
    from tests.support.gateway import gateway_settings, running_gateway
    from tests.support.mosquitto import Mosquitto

    with Mosquitto(tmp_path / "broker") as broker:
        async with running_gateway(gateway_settings(broker, tmp_path), timeout=60) as runtime:
            phrasebook = runtime.ports.optional(REPLY_TEMPLATES)
    assert isinstance(phrasebook, Phrasebook)
    assert NOT_UNDERSTOOD["en"] in phrasebook.fixed["en"]  # the voice part's own
    assert len(phrasebook.openers["en"]) > len(phrasebook.fixed["en"])  # the skills' openers too
