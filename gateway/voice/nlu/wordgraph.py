"""The skills' sentences as one minimal deterministic word graph, for a recogniser's grammar pass.

PocketSphinx's own JSGF compiler copies every rule reference and keeps the copies' empty
(null) transitions: with sentences that cover how customers talk, the product list alone was
copied dozens of times and the search took 2-20 s per utterance. Here the templates become a
word automaton (rules and slot lists inlined), which is determinised (shared prefixes: "where
is the", "do you have") and then minimised (shared suffixes: every sentence that ends in a
product name ends in the *same* copy of the product list). The language is finite, so the
minimisation is the acyclic one: states with the same right language are merged, bottom-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, Sequence, SlotRef, SlotValue, Template, Word


@dataclass(frozen=True)
class WordGraph:
    """A minimal DFA over words: state 0 starts; `finals` may end a sentence."""

    n_states: int
    arcs: tuple[tuple[int, int, str], ...]  # (from, to, word)
    finals: frozenset[int]

    def accepts(self, words: Iterable[str]) -> bool:
        out: dict[tuple[int, str], int] = {(a, w): b for a, b, w in self.arcs}
        state = 0
        for word in words:
            if (state, word) not in out:
                return False
            state = out[(state, word)]
        return state in self.finals


class _Nfa:
    """Words on arcs, empty arcs between parts; rules and slot lists are inlined (copied)."""

    def __init__(self, rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]]) -> None:
        self._rules, self._lists = rules, lists
        self.words: list[list[tuple[str, int]]] = []
        self.empty: list[list[int]] = []

    def state(self) -> int:
        self.words.append([])
        self.empty.append([])
        return len(self.words) - 1

    def add(self, node: Node, start: int, depth: int = 0) -> int:
        """Arcs for `node` from `start`; returns the state where it ends."""
        if depth > 50:
            raise ValueError("rules refer to each other in a cycle")
        match node:
            case Word(spoken=spoken):
                end = self.state()
                self.words[start].append((spoken, end))
                return end
            case Sequence(items=items):
                for item in items:
                    start = self.add(item, start, depth)
                return start
            case Alternatives(options=options):
                end = self.state()
                for option in options:
                    self.empty[self.add(option, start, depth)].append(end)
                return end
            case Optional(item=item):
                end = self.add(item, start, depth)
                self.empty[start].append(end)
                return end
            case RuleRef(name=name):
                return self.add(self._rules[name], start, depth + 1)
            case SlotRef(list_name=name):
                return self.add(Alternatives(tuple(v.spoken for v in self._lists.get(name, ()))), start, depth + 1)
        raise TypeError(node)

    def closure(self, states: Iterable[int]) -> frozenset[int]:
        seen = set(states)
        todo = list(seen)
        while todo:
            for nxt in self.empty[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)


def build_word_graph(templates: Iterable[Template], rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]]) -> WordGraph:
    nfa = _Nfa(rules, lists)
    start, final = nfa.state(), nfa.state()
    for template in templates:
        nfa.empty[nfa.add(template.expression, start)].append(final)
    # Determinise (subset construction).
    first = nfa.closure([start])
    index: dict[frozenset[int], int] = {first: 0}
    dfa: list[dict[str, int]] = [{}]
    accepting: set[int] = set()
    todo = [first]
    while todo:
        subset = todo.pop()
        here = index[subset]
        if final in subset:
            accepting.add(here)
        targets: dict[str, set[int]] = {}
        for s in subset:
            for word, nxt in nfa.words[s]:
                targets.setdefault(word, set()).add(nxt)
        for word, nxts in targets.items():
            target = nfa.closure(nxts)
            if target not in index:
                index[target] = len(dfa)
                dfa.append({})
                todo.append(target)
            dfa[here][word] = index[target]
    return _minimise(dfa, accepting)


def _minimise(dfa: list[dict[str, int]], accepting: set[int]) -> WordGraph:
    """Merge states with the same right language: a state's signature is whether it accepts and
    its (word, merged target) arcs, computed targets first (the graph is acyclic)."""
    order: list[int] = []
    mark = [0] * len(dfa)  # 0 new, 1 on the stack, 2 done
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:
        state, expanded = stack.pop()
        if expanded:
            mark[state] = 2
            order.append(state)
            continue
        if mark[state]:
            continue
        mark[state] = 1
        stack.append((state, True))
        for nxt in dfa[state].values():
            if mark[nxt] == 1:
                raise ValueError("the sentences are not a finite language")
            if mark[nxt] == 0:
                stack.append((nxt, False))
    merged: dict[int, int] = {}
    classes: dict[tuple[bool, tuple[tuple[str, int], ...]], int] = {}
    for state in order:  # targets before their sources
        signature = (state in accepting, tuple(sorted((w, merged[t]) for w, t in dfa[state].items())))
        merged[state] = classes.setdefault(signature, len(classes))
    # Renumber so the start state is 0.
    root = merged[0]
    renumber = {root: 0}
    for cls in sorted(set(merged.values())):
        renumber.setdefault(cls, len(renumber))
    arcs = {(renumber[merged[s]], renumber[merged[t]], w) for s in order for w, t in dfa[s].items()}
    finals = frozenset(renumber[merged[s]] for s in accepting)
    return WordGraph(len(renumber), tuple(sorted(arcs)), finals)


def fsg_transitions(graph: WordGraph, hesitations: Iterable[str] = ()) -> tuple[int, int, list[tuple[int, int, float, str]]]:
    """Transitions for `pocketsphinx.Decoder.create_fsg`; returns (start, final, transitions).

    An FSG has one final state; rather than empty transitions into it (which PocketSphinx must
    close over), an arc into an accepting state is doubled by an arc with the same word into the
    final state. The start state is a copy of state 0 that may also take one hesitation first
    ("uh, when do you close": otherwise the search has to force the "uh" into some sentence's
    first word; the matcher drops hesitations again, `match.FILLERS`). Each state's ways on are
    equally likely, as JSGF's alternatives are."""
    final, start = graph.n_states, graph.n_states + 1
    arcs = list(graph.arcs)
    arcs += [(a, final, w) for a, b, w in graph.arcs if b in graph.finals]
    arcs += [(start, b, w) for a, b, w in arcs if a == 0]
    arcs += [(start, 0, h) for h in sorted(set(hesitations))]
    outgoing: dict[int, int] = {}
    for a, _, _ in arcs:
        outgoing[a] = outgoing.get(a, 0) + 1
    return start, final, [(a, b, 1.0 / outgoing[a], w) for a, b, w in arcs]
