"""A word-pair language model of the skills' sentences, as ARPA text, for the recogniser's
open-vocabulary pass.

The grammar pass accepts only whole sentences; customers also say fragments, recombinations
and sentences with words around them. This bigram model allows every word pair that some
sentence contains (most of the probability) and, through back-off to a uniform unigram, any
sequence of the sentences' words (a small share, `backoff_mass`). Its output is then matched
fuzzily against the sentences (`Matcher.match(max_skips=...)`), as Home Assistant's
speech-to-phrase does with a language model trained on its sentences. Pairs are read off the
template graph (first and last words of each part), so nothing is expanded: 600k sentences
give a few thousand pairs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, Sequence, SlotRef, SlotValue, Template, Word

START, END = "<s>", "</s>"


@dataclass
class _Span:
    """What a part of a template can begin and end with, whether it can be empty, and the word
    pairs inside it."""

    first: set[str] = field(default_factory=set)
    last: set[str] = field(default_factory=set)
    nullable: bool = True
    pairs: set[tuple[str, str]] = field(default_factory=set)


def _then(left: _Span, right: _Span) -> _Span:
    return _Span(
        first=left.first | (right.first if left.nullable else set()),
        last=right.last | (left.last if right.nullable else set()),
        nullable=left.nullable and right.nullable,
        pairs=left.pairs | right.pairs | {(a, b) for a in left.last for b in right.first},
    )


def _either(spans: Iterable[_Span]) -> _Span:
    out = _Span(nullable=False)
    for span in spans:
        out.first |= span.first
        out.last |= span.last
        out.nullable |= span.nullable
        out.pairs |= span.pairs
    return out


class _Spans:
    def __init__(self, rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]]) -> None:
        self._rules, self._lists = rules, lists
        self._memo: dict[str, _Span] = {}

    def of(self, node: Node) -> _Span:
        match node:
            case Word(spoken=spoken):
                return _Span({spoken}, {spoken}, False, set())
            case Sequence(items=items):
                span = _Span()
                for item in items:
                    span = _then(span, self.of(item))
                return span
            case Alternatives(options=options):
                return _either(self.of(o) for o in options)
            case Optional(item=item):
                inner = self.of(item)
                return _Span(inner.first, inner.last, True, inner.pairs)
            case RuleRef(name=name):
                return self._memoised(f"<{name}>", self._rules[name])
            case SlotRef(list_name=name):
                return self._memoised("{" + name + "}", Alternatives(tuple(v.spoken for v in self._lists.get(name, ()))))
        raise TypeError(node)

    def _memoised(self, key: str, node: Node) -> _Span:
        if key not in self._memo:
            self._memo[key] = self.of(node)
        return self._memo[key]


def word_pairs(templates: Iterable[Template], rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]]) -> dict[str, set[str]]:
    """word → the words that may follow it in some sentence (`<s>` starts, `</s>` ends)."""
    spans = _Spans(rules, lists)
    follows: dict[str, set[str]] = {}
    for template in templates:
        span = _then(_then(_Span({START}, {START}, False), spans.of(template.expression)), _Span({END}, {END}, False))
        for a, b in span.pairs:
            follows.setdefault(a, set()).add(b)
    return follows


def to_arpa(follows: Mapping[str, set[str]], backoff_mass: float = 0.05, pair_counts: Mapping[tuple[str, str], int] | None = None) -> str:
    """A bigram ARPA model: P(b | a) = (1 - backoff_mass) / |follows(a)| for the pairs seen, the
    rest by back-off to a uniform unigram over the words. With `pair_counts` (of sampled
    sentences and weighted wordings) the pairs share (1 - backoff_mass) by count, add-one: a
    pair said once in the customers' wordings is then no likelier than the share says."""
    words = sorted({w for a, bs in follows.items() for w in (a, *bs)} - {START})
    uniform = 1.0 / len(words)
    log_uniform = math.log10(uniform)
    bigrams: list[str] = []
    backoff: dict[str, float] = {}
    for a in sorted(follows):
        successors = sorted(follows[a])
        if pair_counts is None:
            shares = dict.fromkeys(successors, 1.0 / len(successors))
        else:
            total = sum(pair_counts.get((a, b), 0) + 1 for b in successors)
            shares = {b: (pair_counts.get((a, b), 0) + 1) / total for b in successors}
        bigrams.extend(f"{math.log10((1.0 - backoff_mass) * shares[b]):.4f} {a} {b}" for b in successors)
        covered = uniform * sum(1 for b in successors if b != START)
        backoff[a] = math.log10(backoff_mass / max(1e-9, 1.0 - covered))
    unigrams = [f"-99.0000 {START} {backoff.get(START, 0.0):.4f}"]
    unigrams += [f"{log_uniform:.4f} {w}" + (f" {backoff[w]:.4f}" if w in backoff and w != END else "") for w in words]
    return "\n".join(
        ["\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:", *unigrams, "", "\\2-grams:", *bigrams, "", "\\end\\", ""]
    )


def sample_sentences(templates: Iterable[Template], rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]], per_template: int, seed: int = 15) -> list[list[str]]:
    """`per_template` random sentences of each template (each alternative and optional part
    chosen uniformly), seeded, so the same sentences always give the same model."""
    import random

    rng = random.Random(seed)

    def walk(node: Node, out: list[str]) -> None:
        match node:
            case Word(spoken=spoken):
                out.append(spoken)
            case Sequence(items=items):
                for item in items:
                    walk(item, out)
            case Alternatives(options=options):
                walk(rng.choice(options), out)
            case Optional(item=item):
                if rng.random() < 0.5:
                    walk(item, out)
            case RuleRef(name=name):
                walk(rules[name], out)
            case SlotRef(list_name=name):
                values = lists.get(name, ())
                if values:
                    walk(rng.choice(values).spoken, out)

    sentences = []
    for template in templates:
        # Each template's own seeded draws: a sentence added or changed elsewhere leaves every
        # other template's samples (and so the open pass's model of them) as they were.
        rng.seed(f"{seed}:{template.intent}:{template.text}")
        for _ in range(per_template):
            words: list[str] = []
            walk(template.expression, words)
            sentences.append(words)
    return sentences


def trigram_arpa(sentences: Iterable[list[str]], follows: Mapping[str, set[str]], backoff_mass: float = 0.05, counted_pairs: bool = False) -> str:
    """A trigram ARPA model of sampled sentences over the word-pair model: seen trigrams take
    most of the probability, the rest backs off to the word pairs (`to_arpa`) and from them to
    a uniform unigram. Simple absolute shares, not a smoothed estimate: the recogniser needs the
    sentences' shapes, not calibrated probabilities."""
    from collections import Counter

    counts: Counter[tuple[str, str, str]] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for words in sentences:
        padded = [START, *words, END]
        pairs.update(zip(padded, padded[1:]))
        for i in range(len(padded) - 2):
            counts[(padded[i], padded[i + 1], padded[i + 2])] += 1
    histories: dict[tuple[str, str], Counter[str]] = {}
    for (a, b, c), n in counts.items():
        histories.setdefault((a, b), Counter())[c] += n
    bigram_model = to_arpa(follows, backoff_mass, pairs if counted_pairs else None)  # sampled pairs are pairs of the graph
    head, _, rest = bigram_model.partition("\\2-grams:")
    bigram_lines = rest.split("\n\n")[0].strip().splitlines()
    # Every bigram that is a trigram history needs a back-off weight: append it to its line.
    bigram_with_bo = []
    for line in bigram_lines:
        prob, a, b = line.split()
        bo = f" {math.log10(backoff_mass):.4f}" if (a, b) in histories else ""
        bigram_with_bo.append(f"{prob} {a} {b}{bo}")
    trigram_lines = []
    for (a, b), nexts in sorted(histories.items()):
        total = sum(nexts.values())
        for c, n in sorted(nexts.items()):
            trigram_lines.append(f"{math.log10((1.0 - backoff_mass) * n / total):.4f} {a} {b} {c}")
    head = head.replace("\\data\\\n", "").strip()
    ngram_lines = [line for line in head.splitlines() if line.startswith("ngram")]
    unigram_block = head.split("\\1-grams:")[1].strip()
    return "\n".join(
        ["\\data\\", *ngram_lines, f"ngram 3={len(trigram_lines)}", "", "\\1-grams:", unigram_block, "", "\\2-grams:", *bigram_with_bo,
         "", "\\3-grams:", *trigram_lines, "", "\\end\\", ""]
    )
