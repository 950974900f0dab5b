"""From templates to what a recogniser needs: the words, all sentences (for Vosk), a JSGF grammar
(for PocketSphinx). Only the spoken side of substitutions matters here."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, Sequence, SlotRef, SlotValue, Template, Word


class TooManySentences(Exception):
    pass


def words_of(node: Node, rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]]) -> set[str]:
    match node:
        case Word(spoken=spoken):
            return {spoken}
        case Sequence(items=items):
            return set().union(*(words_of(i, rules, lists) for i in items))
        case Alternatives(options=options):
            return set().union(*(words_of(o, rules, lists) for o in options))
        case Optional(item=item):
            return words_of(item, rules, lists)
        case RuleRef(name=name):
            return words_of(rules[name], rules, lists)
        case SlotRef(list_name=list_name):
            return set().union(*(words_of(v.spoken, rules, lists) for v in lists.get(list_name, ())))
    return set()


def sentences_of(
    node: Node, rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]], limit: int
) -> list[str]:
    """Every sentence `node` can say, or TooManySentences past `limit`."""
    out: list[str] = []
    for words in _expand(node, rules, lists):
        out.append(" ".join(w for w in words if w))
        if len(out) > limit:
            raise TooManySentences(f"more than {limit} sentences")
    return out


def _expand(node: Node, rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]]) -> Iterator[tuple[str, ...]]:
    match node:
        case Word(spoken=spoken):
            yield (spoken,)
        case Sequence(items=items):
            parts = [list(_expand(i, rules, lists)) for i in items]
            for combo in itertools.product(*parts):
                yield tuple(itertools.chain.from_iterable(combo))
        case Alternatives(options=options):
            for option in options:
                yield from _expand(option, rules, lists)
        case Optional(item=item):
            yield ()
            yield from _expand(item, rules, lists)
        case RuleRef(name=name):
            yield from _expand(rules[name], rules, lists)
        case SlotRef(list_name=list_name):
            for value in lists.get(list_name, ()):
                yield from _expand(value.spoken, rules, lists)


def to_jsgf(
    templates: Iterable[Template],
    rules: Mapping[str, Node],
    lists: Mapping[str, list[SlotValue]],
    grammar_name: str = "touchgate",
) -> str:
    """A JSGF grammar whose public rule accepts exactly the templates' sentences."""
    used_lists: set[str] = set()
    used_rules: set[str] = set()
    bodies = [_jsgf(t.expression, used_lists, used_rules) for t in templates]
    lines = ["#JSGF V1.0;", f"grammar {grammar_name};", "public <command> = " + " | ".join(f"( {b} )" for b in bodies) + ";"]
    pending = sorted(used_rules)
    done: set[str] = set()
    while pending:
        name = pending.pop()
        if name in done:
            continue
        done.add(name)
        before = set(used_rules)
        lines.append(f"<r_{name}> = {_jsgf(rules[name], used_lists, used_rules)};")
        pending.extend(sorted(used_rules - before))
    for list_name in sorted(used_lists):
        values = [_jsgf(v.spoken, used_lists, used_rules) for v in lists.get(list_name, ())]
        # An empty list would make the grammar invalid; <VOID> matches nothing.
        lines.append(f"<l_{list_name}> = " + (" | ".join(f"( {v} )" for v in values) if values else "<VOID>") + ";")
    return "\n".join(lines) + "\n"


def _jsgf(node: Node, used_lists: set[str], used_rules: set[str]) -> str:
    match node:
        case Word(spoken=spoken):
            return spoken
        case Sequence(items=items):
            return " ".join(_jsgf(i, used_lists, used_rules) for i in items) if items else "<NULL>"
        case Alternatives(options=options):
            return "( " + " | ".join(_jsgf(o, used_lists, used_rules) for o in options) + " )"
        case Optional(item=item):
            return "[ " + _jsgf(item, used_lists, used_rules) + " ]"
        case RuleRef(name=name):
            used_rules.add(name)
            return f"<r_{name}>"
        case SlotRef(list_name=list_name):
            used_lists.add(list_name)
            return f"<l_{list_name}>"
    raise TypeError(node)


def prune(node: Node, known: Callable[[str], bool]) -> Node | None:
    """`node` without the alternatives that use words the recogniser cannot say (None if nothing
    is left). Used so one unknown product name does not take the whole grammar down."""
    match node:
        case Word(spoken=spoken):
            return node if known(spoken) else None
        case Sequence(items=items, value=value):
            kept = [prune(i, known) for i in items]
            if any(k is None for k in kept):
                return None
            return Sequence(tuple(k for k in kept if k is not None), value)
        case Alternatives(options=options, value=value):
            alive = tuple(o for o in (prune(o, known) for o in options) if o is not None)
            return Alternatives(alive, value) if alive else None
        case Optional(item=item):
            inner = prune(item, known)
            return Optional(inner) if inner is not None else Sequence(())
    return node


@dataclass(frozen=True)
class GrammarSource:
    """The templates, rules and lists a recogniser may use, unknown words removed."""

    templates: list[Template]
    rules: dict[str, Node]
    lists: dict[str, list[SlotValue]]
    unknown_words: set[str]


def prune_grammar(
    templates: Iterable[Template], rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]], known: Callable[[str], bool]
) -> GrammarSource:
    unknown: set[str] = set()

    def check(word: str) -> bool:
        ok = known(word)
        if not ok:
            unknown.add(word)
        return ok

    kept_lists = {
        name: [SlotValue(s, v.value) for v in values if (s := prune(v.spoken, check)) is not None]
        for name, values in lists.items()
    }
    kept_rules = {name: r for name, rule in rules.items() if (r := prune(rule, check)) is not None}

    def usable(node: Node) -> bool:
        match node:
            case RuleRef(name=name):
                return name in kept_rules
            case SlotRef(list_name=name):
                return bool(kept_lists.get(name))
            case Sequence(items=items):
                return all(usable(i) for i in items)
            case Alternatives(options=options):
                return any(usable(o) for o in options)
        return True

    kept_templates = []
    for template in templates:
        expression = prune(template.expression, check)
        if isinstance(expression, Sequence) and expression.items and usable(expression):
            kept_templates.append(Template(template.intent, expression, template.source, template.text))
    return GrammarSource(kept_templates, kept_rules, kept_lists, unknown)
