"""The loaded rules, indexed by trigger so an event meets only the rules that could fire. Pure.

Rules are grouped by event kind (or intent name). Within a kind, the filters that depend only on
where an event came from (site, device, zone, topic) are resolved once per source and memoised:
a busy sensor costs a dict lookup, however many rules the shop has.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from gateway.rules.compile import CompiledRule
from gateway.rules.model import trigger_kind

_MEMO_MAX = 50_000


class Zones:
    """Zone name → `site/device` globs; which zones a device belongs to (memoised)."""

    def __init__(self, zones: dict[str, list[str]]) -> None:
        self._zones = {name: list(patterns) for name, patterns in zones.items()}
        self._memo: dict[tuple[str, str], tuple[str, ...]] = {}

    @property
    def names(self) -> list[str]:
        return list(self._zones)

    def of(self, site: str, device: str) -> tuple[str, ...]:
        key = (site, device)
        found = self._memo.get(key)
        if found is None:
            source = f"{site}/{device}"
            found = tuple(
                name for name, patterns in self._zones.items()
                if any(fnmatch.fnmatchcase(source, p) or fnmatch.fnmatchcase(site, p) for p in patterns)
            )
            if len(self._memo) > _MEMO_MAX:
                self._memo.clear()
            self._memo[key] = found
        return found


class RuleSet:
    """An immutable set of compiled rules (a reload builds a new one and swaps it in)."""

    def __init__(self, rules: Iterable[CompiledRule], zones: Zones, sources: dict[str, str] | None = None) -> None:
        enabled = [r for r in rules if r.rule.enabled]
        # Higher priority first; ties keep file order.
        ordered = sorted(enabled, key=lambda r: -r.rule.priority)
        self.rules: dict[str, CompiledRule] = {r.id: r for r in rules}
        self.zones = zones
        self.sources = sources or {}
        self._by_kind: dict[str, list[CompiledRule]] = {}
        self._by_intent: dict[str, list[CompiledRule]] = {}
        for rule in ordered:
            trigger = rule.rule.trigger
            kind = trigger_kind(trigger)
            if kind is not None:
                self._by_kind.setdefault(kind, []).append(rule)
            else:
                self._by_intent.setdefault(trigger.intent or "", []).append(rule)
        self._memo: dict[tuple[str, str, str, str], tuple[CompiledRule, ...]] = {}
        self.kinds = frozenset(self._by_kind)

    def __len__(self) -> int:
        return len(self.rules)

    def for_event(self, kind: str, site: str, device: str, topic: str, zones: tuple[str, ...]) -> tuple[CompiledRule, ...]:
        key = (kind, site, device, topic)
        found = self._memo.get(key)
        if found is None:
            found = tuple(r for r in self._by_kind.get(kind, ()) if r.static_match(site, device, topic, zones))
            if len(self._memo) > _MEMO_MAX:
                self._memo.clear()
            self._memo[key] = found
        return found

    def for_intent(self, intent: str, site: str, zones: tuple[str, ...]) -> tuple[CompiledRule, ...]:
        return tuple(r for r in self._by_intent.get(intent, ()) if r.static_match(site, "", "", zones))
