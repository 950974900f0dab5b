"""The recognisers' views of the sentences: the grammar pass's word graph (nlu/wordgraph.py) must
accept exactly the sentences the templates expand to, be deterministic, and give PocketSphinx
well-formed transitions; the open pass's word pairs (nlu/wordpairs.py) must be exactly the
sentences' pairs. Checked on generated templates (hypothesis) against the independent expansion
in nlu/expand.py, and on the built-in skills."""

from __future__ import annotations

import itertools
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.voice.engines.factory import grammar_source
from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, Sequence, SlotRef, SlotValue, Template, Word
from gateway.voice.nlu.expand import sentences_of
from gateway.voice.nlu.wordgraph import build_word_graph, fsg_transitions
from gateway.voice.nlu.wordpairs import END, START, to_arpa, word_pairs
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import build_intent_model

VOCABULARY = ("a", "b", "c", "d")
LISTS = {"thing": [SlotValue(Word("c"), "c"), SlotValue(Sequence((Word("a"), Word("d"))), "ad")]}
RULES: dict[str, Node] = {"polite": Alternatives((Word("b"), Sequence((Word("a"), Word("b")))))}


def _nodes() -> st.SearchStrategy[Node]:
    leaves = st.one_of(st.sampled_from(VOCABULARY).map(Word), st.just(SlotRef("thing", "thing")), st.just(RuleRef("polite")))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda items: Sequence(tuple(items))),
            st.lists(inner, min_size=2, max_size=3).map(lambda options: Alternatives(tuple(options))),
            inner.map(Optional),
        ),
        max_leaves=8,
    )


def _templates(expressions: list[Node]) -> list[Template]:
    return [Template("I", Sequence((e,)), "t", "t") for e in expressions]


@settings(max_examples=150, deadline=None)
@given(st.lists(_nodes(), min_size=1, max_size=3))
def test_the_graph_accepts_exactly_the_expanded_sentences(expressions: list[Node]) -> None:
    templates = _templates(expressions)
    expected = {s for t in templates for s in sentences_of(t.expression, RULES, LISTS, 100_000)}
    graph = build_word_graph(templates, RULES, LISTS)
    seen: set[tuple[int, str]] = set()
    for a, _, word in graph.arcs:
        assert (a, word) not in seen, "two arcs with the same word leave one state"
        seen.add((a, word))
    for sentence in expected:
        assert graph.accepts(sentence.split()), sentence
    longest = max(len(s.split()) for s in expected)
    for length in range(longest + 2):
        for words in itertools.product(VOCABULARY, repeat=min(length, 5)):
            assert graph.accepts(words) == (" ".join(words) in expected), words


@settings(max_examples=60, deadline=None)
@given(st.lists(_nodes(), min_size=1, max_size=3))
def test_fsg_transitions_leave_each_state_with_probability_one(expressions: list[Node]) -> None:
    start, final, transitions = fsg_transitions(build_word_graph(_templates(expressions), RULES, LISTS), ["uh"])
    leaving: dict[int, float] = defaultdict(float)
    for transition in transitions:
        leaving[transition[0]] += transition[2]
        assert transition[0] != final
    assert start in leaving
    assert all(abs(total - 1.0) < 1e-9 for total in leaving.values())


def test_the_skills_sentences_share_one_small_graph() -> None:
    """The built-in skills' sentences (hundreds of thousands) fit a graph of a few hundred states:
    what keeps the grammar pass fast."""
    model, _ = build_intent_model(VoiceSettings(), "en")
    source = grammar_source(model)
    graph = build_word_graph(source.templates, source.rules, source.lists)
    assert graph.n_states < 2000
    for sentence in ("where is the milk", "when do you close on sunday", "call a staff member", "delete my data"):
        assert graph.accepts(sentence.split()) == (model.matcher.match(sentence) is not None), sentence


@settings(max_examples=150, deadline=None)
@given(st.lists(_nodes(), min_size=1, max_size=3))
def test_word_pairs_are_exactly_the_pairs_of_the_sentences(expressions: list[Node]) -> None:
    """The open pass's model allows (with most of its probability) exactly the word pairs some
    sentence contains, sentence starts and ends included; read off the graph, never expanded."""
    templates = _templates(expressions)
    expected: set[tuple[str, str]] = set()
    for template in templates:
        for sentence in sentences_of(template.expression, RULES, LISTS, 100_000):
            words = [START, *sentence.split(), END]
            expected |= set(zip(words, words[1:]))
    follows = word_pairs(templates, RULES, LISTS)
    assert {(a, b) for a, bs in follows.items() for b in bs} == expected
    arpa = to_arpa(follows)
    assert arpa.startswith("\\data\\") and arpa.rstrip().endswith("\\end\\")
