"""Templated action text and payloads (`{{ profile.first_name }}`), with Jinja2's sandbox.

Rules are operator-written but still input: the sandbox keeps a template from reaching Python
internals, and a missing value renders as empty text instead of stopping the action.
Templates compile once when the rules load; a syntax error is reported with the rule's line.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2
import jinja2.runtime
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names a template may read; the personal ones make the rule need a consent purpose.
PERSONAL_NAMES = frozenset({"profile", "customer_id"})
KNOWN_NAMES = frozenset({"event", "profile", "customer_id", "rule", "zone", "zones", "slots", "intent", "site", "now", "counters"})


class TemplateProblem(ValueError):
    pass


# Results a template's arithmetic may build: a power or a repetition past these would hold the
# event loop (and every rule, sensor and voice turn with it) for minutes, or exhaust memory, on
# values a sensor sends (`{{ event.attributes.x ** event.attributes.y }}`).
MAX_POWER_BITS = 4096
MAX_REPEAT_LENGTH = 100_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with `**` and `*` checked before they run."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_repeat(left, right)
        return super().call_binop(context, operator, left, right)


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, bool) or isinstance(exponent, bool):
        return
    if isinstance(base, (int, float)) and isinstance(exponent, (int, float)) and isinstance(base, int) and isinstance(exponent, int):
        if exponent > 0 and abs(base) > 1 and exponent * abs(base).bit_length() > MAX_POWER_BITS:
            raise OverflowError(f"power too large: a {abs(base).bit_length()}-bit number to the {exponent}")


def _check_repeat(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > MAX_REPEAT_LENGTH:
            raise OverflowError(f"repetition too long: {len(seq)} x {count}")


_ENV = _BoundedSandbox(undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False)


class Text:
    """One compiled template string; plain text (no `{{`/`{%`) skips Jinja entirely."""

    __slots__ = ("source", "_template", "names")

    def __init__(self, source: str) -> None:
        self.source = source
        if "{{" not in source and "{%" not in source:
            self._template: jinja2.Template | None = None
            self.names: frozenset[str] = frozenset()
            return
        self._template, self.names = _compiled(source)
        unknown = self.names - KNOWN_NAMES
        if unknown:
            raise TemplateProblem(f"unknown name(s) {sorted(unknown)} in {source!r}; known: {sorted(KNOWN_NAMES)}")

    def render(self, context: Mapping[str, Any]) -> str:
        if self._template is None:
            return self.source
        try:
            return self._template.render(context)
        except jinja2.TemplateError as exc:
            # A runtime slip (e.g. a filter on a wrong type) must not stop the rule: keep the text.
            return f"{self.source} [template error: {exc}]"


@functools.lru_cache(maxsize=4096)
def _compiled(source: str) -> tuple[jinja2.Template, frozenset[str]]:
    """Compiling costs about a millisecond and rule packs repeat their texts: compile each once.
    (A pure function of the text; the sandboxed environment is immutable.)"""
    try:
        return _ENV.from_string(source), frozenset(meta.find_undeclared_variables(_ENV.parse(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"template error in {source!r}: {exc.message}") from exc


class Structure:
    """A mapping/list payload whose string leaves are templates."""

    __slots__ = ("_compiled", "names")

    def __init__(self, value: Any) -> None:
        names: set[str] = set()
        self._compiled = _compile(value, names)
        self.names = frozenset(names)

    def render(self, context: Mapping[str, Any]) -> Any:
        return _render(self._compiled, context)


def _compile(value: Any, names: set[str]) -> Any:
    if isinstance(value, str):
        text = Text(value)
        names.update(text.names)
        return text
    if isinstance(value, dict):
        return {str(k): _compile(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_compile(v, names) for v in value]
    return value


def _render(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, Text):
        return value.render(context)
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    return value
