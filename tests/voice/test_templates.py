"""Sentence templates: parsing, matching with slots and substitutions, grammar output."""

from __future__ import annotations

import pytest

from gateway.voice.nlu.ast import SlotValue
from gateway.voice.nlu.expand import prune_grammar, sentences_of, to_jsgf
from gateway.voice.nlu.match import Matcher
from gateway.voice.nlu.parse import TemplateError, parse_expression, parse_sentences
from gateway.voice.nlu.ast import Alternatives

SENTENCES = """
; a comment
[SetTimer]
set [a] timer for <amount> (minute | minutes)
amount = (one:1 | two:2 | ten:10 | (twenty five):25)

[Order]
(i want | give me) [the] {product:item} please:
what is in aisle {number}
"""

LISTS = {
    "product": [SlotValue(parse_expression("oat milk", "t"), "oat-milk"), SlotValue(parse_expression("(coffee | coffee beans)", "t"), "coffee")],
    "number": [SlotValue(parse_expression(w, "t"), n) for w, n in (("three", 3), ("four", 4))],
}


def matcher() -> Matcher:
    parsed = parse_sentences(SENTENCES, "test.ini")
    return Matcher(parsed.templates, parsed.rules, LISTS)


def test_optional_words_alternatives_and_rules() -> None:
    m = matcher()
    for text in ("set a timer for ten minutes", "set timer for one minute", "Set a timer for twenty five minutes!"):
        found = m.match(text)
        assert found is not None and found.intent == "SetTimer", text
    assert m.match("set a timer for minutes") is None
    assert m.match("set a timer for ten minutes please") is None  # every word must be explained


def test_slots_with_substitutions_and_ranges() -> None:
    found = matcher().match("give me the coffee beans please")
    assert found is not None and found.intent == "Order"
    (slot,) = found.slots
    assert (slot.name, slot.list_name, slot.value, slot.raw) == ("item", "product", "coffee", "coffee beans")
    assert found.tokens[slot.start_token : slot.end_token] == ("coffee", "beans")
    number = matcher().match("what is in aisle four")
    assert number is not None and number.slots[0].value == 4


def test_intent_filter_and_unknown_speech() -> None:
    m = matcher()
    assert m.match("i want oat milk", intent_filter=["SetTimer"]) is None
    assert m.match("the weather is lovely") is None
    assert m.match("") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("set a timer", "before the first"),
        ("[A]\nwhere (is | are the milk", "missing ')'"),
        ("[A]\nwhere is <nothing>", "rule <nothing> is not defined"),
        ("[A]\nloop\nx = <x>\ny <x>", "refers to itself"),
        ("[A]\nwhere is {bad name}", "bad slot"),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_sentences(text, "skill.ini")
    assert message in info.value.message
    assert info.value.source.startswith("skill.ini:")


def test_grammars_accept_exactly_the_sentences() -> None:
    parsed = parse_sentences(SENTENCES, "test.ini")
    top = Alternatives(tuple(t.expression for t in parsed.templates))
    sentences = set(sentences_of(top, parsed.rules, LISTS, 1000))
    assert "set a timer for twenty five minutes" in sentences
    assert "give me the coffee beans please" in sentences
    assert all(matcher().match(s) is not None for s in sentences)
    jsgf = to_jsgf(parsed.templates, parsed.rules, LISTS)
    assert jsgf.startswith("#JSGF V1.0;") and "<l_product> =" in jsgf and "<r_amount> =" in jsgf


def test_unknown_words_are_pruned_not_fatal() -> None:
    parsed = parse_sentences(SENTENCES, "test.ini")
    pruned = prune_grammar(parsed.templates, parsed.rules, LISTS, lambda word: word != "beans")
    assert pruned.unknown_words == {"beans"}
    coffee = pruned.lists["product"][1]
    top = Alternatives(tuple(t.expression for t in pruned.templates))
    assert "give me coffee please" in sentences_of(top, pruned.rules, pruned.lists, 1000)
    assert "give me coffee beans please" not in sentences_of(top, pruned.rules, pruned.lists, 1000)
    assert coffee.value == "coffee"
