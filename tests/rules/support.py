"""Helpers for the rules tests: rules from YAML text in tmp_path, events, a consent set."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from gateway.model.event import Event
from gateway.rules.engine import Engine, EngineConfig
from gateway.rules.index import RuleSet
from gateway.rules.loader import load_rules
from gateway.rules.replay import MemoryConsents
from gateway.rules.settings import RulesSettings

# Saturday 28 November 2026, 10:00:00 UTC.
T0 = 1795860000.0


def write_rules(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def rules_from(tmp_path: Path, text: str, **settings: Any) -> RuleSet:
    folder = tmp_path / "rules"
    write_rules(folder, text)
    result = load_rules(RulesSettings(dir=folder, timezone="UTC", **settings))
    assert result.rules is not None, [str(p) for p in result.problems]
    return result.rules


def engine_for(tmp_path: Path, text: str, consents: MemoryConsents | None = None, **config: Any) -> tuple[Engine, MemoryConsents]:
    consents = consents or MemoryConsents()
    engine = Engine(rules_from(tmp_path, text), consents, EngineConfig(timezone="UTC", **config))
    return engine, consents


def event(kind: str = "occupancy", at: float = T0, site: str = "shop1", device: str = "d1", customer: str | None = None, **attributes: Any) -> Event:
    return Event(received_at=at, site=site, device=device, kind=kind, purpose="analytics", customer_id=customer, attributes=attributes)


def fired(decisions: list[Any]) -> list[str]:
    return [d.rule_id for d in decisions if d.fired]


def reasons(decisions: list[Any]) -> dict[str, str]:
    return {d.rule_id: d.reason for d in decisions}
