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
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names a template may read; the personal ones make the rule need a consent purpose.
PERSONAL_NAMES = frozenset({"profile", "customer_id"})
KNOWN_NAMES = frozenset({"event", "profile", "customer_id", "rule", "zone", "zones", "slots", "intent", "site", "now", "counters"})


class TemplateProblem(ValueError):
    pass


_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False)


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
