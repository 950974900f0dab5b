"""`touchgate rules test`: replay a JSONL file of events through the rules, with no broker or
database. Lines are committed events (as the engine sees them, after the consent gate), or set
the scene: a customer's profile, a consent, a voice intent, a moment in time.

    {"type": "profile", "customer_id": "card:1", "attributes": {"loyalty_tier": "gold"}}
    {"type": "consent", "customer_id": "card:1", "purpose": "personalisation"}
    {"received_at": 1764324000, "site": "entrance", "device": "reader", "kind": "identify", "purpose": "service", "customer_id": "card:1"}
    {"type": "intent", "at": 1764324005, "site": "kiosk1", "intent": "AskOpeningHours"}
    {"type": "tick", "at": 1764324700}

An event line may omit `type` (or say "event"). Time is the lines' own; `for:` triggers fire
when a later line's time passes their deadline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.model.event import AttributeValue, Purpose, event_from_dict
from gateway.rules.engine import Decision, Engine, EngineConfig
from gateway.rules.index import RuleSet


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileLine(_Line):
    type: Literal["profile"]
    customer_id: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class ConsentLine(_Line):
    type: Literal["consent"]
    customer_id: str
    purpose: Purpose
    granted: bool = True


class IntentLine(_Line):
    type: Literal["intent"]
    at: float
    site: str
    intent: str
    slots: dict[str, AttributeValue] = Field(default_factory=dict)
    customer_id: str | None = None


class TickLine(_Line):
    type: Literal["tick"]
    at: float


class MemoryConsents:
    """The replay's consent source: what the file's consent lines say (nothing else is granted)."""

    def __init__(self) -> None:
        self.granted: set[tuple[str, str]] = set()

    def allows(self, customer_id: str, purpose: str, at: float) -> bool:
        return (customer_id, purpose) in self.granted


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the file and what came of it."""

    line: int
    what: str  # a one-line description of the input
    decisions: tuple[Decision, ...] = ()
    error: str | None = None


def replay(rules: RuleSet, lines: Iterable[str], config: EngineConfig | None = None) -> Iterator[Step]:
    consents = MemoryConsents()
    engine = Engine(rules, consents, config)
    engine.explain = True
    for number, text in enumerate(lines, start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("each line must be a JSON object")
            yield _step(engine, consents, number, data)
        except (ValueError, ValidationError) as exc:
            yield Step(number, "", error=_short(exc))


def _step(engine: Engine, consents: MemoryConsents, number: int, data: dict[str, Any]) -> Step:
    kind = data.get("type", "event")
    if kind == "profile":
        p = ProfileLine.model_validate(data)
        engine.profiles.put(p.customer_id, dict(p.attributes), {}, float("inf"))
        return Step(number, f"profile {p.customer_id}: {json.dumps(p.attributes, ensure_ascii=False)}")
    if kind == "consent":
        c = ConsentLine.model_validate(data)
        if c.granted:
            consents.granted.add((c.customer_id, c.purpose))
        else:
            consents.granted.discard((c.customer_id, c.purpose))
        return Step(number, f"consent {c.customer_id} {c.purpose}: {'granted' if c.granted else 'withdrawn'}")
    if kind == "intent":
        i = IntentLine.model_validate(data)
        decisions = engine.on_intent(i.site, i.intent, i.slots, i.customer_id, i.at)
        return Step(number, f"intent {i.intent} at {i.site}" + (f" ({i.customer_id})" if i.customer_id else ""), tuple(decisions))
    if kind == "tick":
        t = TickLine.model_validate(data)
        return Step(number, f"time passes to {t.at:.0f}", tuple(engine.advance(t.at)))
    if kind != "event":
        raise ValueError(f"unknown line type {kind!r}: event, profile, consent, intent or tick")
    event = event_from_dict({k: v for k, v in data.items() if k != "type"})
    who = f" ({event.customer_id})" if event.customer_id else ""
    attrs = json.dumps(event.attributes, ensure_ascii=False, separators=(",", ":"))
    return Step(number, f"{event.kind} {event.site}/{event.device}{who} {attrs}", tuple(engine.process(event)))


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(line)'}: {e['msg']}" for e in exc.errors(include_url=False))
    return str(exc)
