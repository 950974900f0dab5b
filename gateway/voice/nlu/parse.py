"""Parsing sentences.ini text into intents and templates.

    [GetOpeningHours]
    when (are you | is the shop) open [today]
    what are [your] opening hours

    [WhereIsProduct]
    where (is | are | can i find) [the] {product}
    article = (a | an | the)     ; a rule, used as <article>

Optional `[x]`, alternatives `(a | b)`, slots `{list}` or `{list:slot}`, rules `<name>`,
substitutions `ten:10` / `(one hundred):100` / `please:` (said, but means nothing). `;` and `#`
start a comment. Errors carry the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, Sequence, SlotRef, Template, Word

_SECTION = re.compile(r"^\[([A-Za-z][A-Za-z0-9_.-]*)\]$")
_RULE = re.compile(r"^([a-z_][a-z0-9_]*)\s*=\s*(.+)$")
_TOKEN = re.compile(r"\s*(\(|\)|\[|\]|\||\{[^}]*\}(?::[^\s()\[\]|{}<>]*)?|<[^>]*>|[^\s()\[\]|{}<>]+)")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class TemplateError(ValueError):
    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source, self.message = source, message


@dataclass
class ParsedSentences:
    templates: list[Template] = field(default_factory=list)
    rules: dict[str, Node] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return list(dict.fromkeys(t.intent for t in self.templates))


def parse_sentences(text: str, file: str) -> ParsedSentences:
    out = ParsedSentences()
    intent: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        source = f"{file}:{number}"
        line = re.split(r"\s[;#]|^[;#]", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        section = _SECTION.match(line)
        if section:
            intent = section.group(1)
            continue
        rule = _RULE.match(line)
        if rule:
            name = rule.group(1)
            if name in out.rules:
                raise TemplateError(source, f"rule {name!r} is defined twice")
            out.rules[name] = parse_expression(rule.group(2), source)
            continue
        if intent is None:
            raise TemplateError(source, "a sentence before the first [IntentName] section")
        out.templates.append(Template(intent, parse_expression(line, source), source, line))
    for template in out.templates:
        _check_rules(template.expression, out.rules, template.source)
    return out


def parse_expression(text: str, source: str) -> Sequence:
    tokens = _tokenise(text, source)
    parser = _Parser(tokens, source)
    node = parser.alternatives(end=None)
    if parser.pos != len(tokens):
        raise TemplateError(source, f"unexpected {tokens[parser.pos]!r}")
    return node if isinstance(node, Sequence) else Sequence((node,))


def _tokenise(text: str, source: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise TemplateError(source, f"cannot read {text[pos:]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], source: str) -> None:
        self.tokens, self.source, self.pos = tokens, source, 0

    def alternatives(self, end: str | None) -> Node:
        options = [self.sequence(end)]
        while self._peek() == "|":
            self.pos += 1
            options.append(self.sequence(end))
        if len(options) == 1:
            return options[0]
        return Alternatives(tuple(options))

    def sequence(self, end: str | None) -> Node:
        items: list[Node] = []
        while (token := self._peek()) is not None and token not in ("|", end) and token not in (")", "]"):
            items.append(self.item())
        if not items:
            raise TemplateError(self.source, "empty alternative or group")
        return items[0] if len(items) == 1 else Sequence(tuple(items))

    def item(self) -> Node:
        token = self.tokens[self.pos]
        self.pos += 1
        if token in ("(", "["):
            close = ")" if token == "(" else "]"
            inner = self.alternatives(end=close)
            if self._peek() != close:
                raise TemplateError(self.source, f"missing {close!r}")
            self.pos += 1
            if token == "[":
                return Optional(inner)
            value = self._substitution()
            if value is not None:
                if isinstance(inner, Alternatives):
                    return Alternatives(inner.options, value)
                return Sequence(inner.items if isinstance(inner, Sequence) else (inner,), value)
            return inner
        if token.startswith("{"):
            body, _, _ = token[1:].partition("}")
            list_name, _, slot_name = body.partition(":")
            list_name, slot_name = list_name.strip(), (slot_name.strip() or list_name.strip())
            if not _NAME.match(list_name) or not _NAME.match(slot_name):
                raise TemplateError(self.source, f"bad slot {token!r}: use {{list}} or {{list:slot}}")
            return SlotRef(list_name, slot_name)
        if token.startswith("<"):
            name = token[1:-1].strip()
            if not _NAME.match(name):
                raise TemplateError(self.source, f"bad rule reference {token!r}")
            return RuleRef(name)
        if token in (")", "]", "|"):
            raise TemplateError(self.source, f"unexpected {token!r}")
        spoken, sep, value = token.partition(":")
        if not spoken:
            raise TemplateError(self.source, f"substitution {token!r} has no spoken word")
        return Word(spoken.lower(), value if sep else None)

    def _substitution(self) -> str | None:
        token = self._peek()
        if token is not None and token.startswith(":") and len(token) >= 1:
            self.pos += 1
            return token[1:]
        return None

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None


def _check_rules(node: Node, rules: dict[str, Node], source: str, seen: tuple[str, ...] = ()) -> None:
    match node:
        case RuleRef(name=name):
            if name not in rules:
                raise TemplateError(source, f"rule <{name}> is not defined")
            if name in seen:
                raise TemplateError(source, f"rule <{name}> refers to itself")
            _check_rules(rules[name], rules, source, seen + (name,))
        case Sequence(items=items):
            for item in items:
                _check_rules(item, rules, source, seen)
        case Alternatives(options=options):
            for option in options:
                _check_rules(option, rules, source, seen)
        case Optional(item=item):
            _check_rules(item, rules, source, seen)
