"""The rules engine proper: event (or intent) in, decisions out. Pure and synchronous.

Time is the event's own time, so replaying a file gives the same decisions as the live run.
The adapter (`gateway.rules.service`) feeds committed events, prefetches profiles, performs the
outputs and persists the state this class keeps in memory (caps, counters, local profiles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from gateway.model.event import Event
from gateway.model.gate import ConsentLookup
from gateway.rules.actions import Firing, Output, Topics
from gateway.rules.clock import LocalClock
from gateway.rules.compile import CompiledRule
from gateway.rules.counters import Counters
from gateway.rules.facts import MISSING, Facts
from gateway.rules.index import RuleSet
from gateway.rules.limits import LimitBook
from gateway.rules.model import FIGURE_KIND_PREFIX
from gateway.rules.profiles import ProfileCache

FIRED = "fired"
# A condition or action raised: counted as the outcome "error", logged and audited by the service.
ERROR_PREFIX = "error"
_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class EngineConfig:
    presence_ttl_s: float = 900.0
    visit_gap_s: float = 4 * 3600.0
    # Visits are counted (a personal counter) only for customers who consent to this purpose.
    visit_purpose: str = "personalisation"
    identify_kind: str = "identify"
    timezone: str | None = None
    topics: Topics = field(default_factory=Topics)


class Decision(NamedTuple):
    """One rule's verdict on one trigger (a NamedTuple: made for every candidate rule, so cheap)."""

    rule_id: str
    fired: bool
    reason: str
    trigger: str  # the event id, or "intent:<name>"
    at: float
    customer_id: str | None = None
    purpose: str | None = None
    scope: str = ""
    outputs: tuple[Output, ...] = ()

    @property
    def outcome(self) -> str:
        """The reason's category, for counts: fired, no_consent, condition, cap, cooldown, ..."""
        if self.fired:
            return FIRED
        for prefix, name in _OUTCOMES:
            if self.reason.startswith(prefix):
                return name
        return "other"


_OUTCOMES = (
    ("no consent", "no_consent"), ("no customer", "no_customer"), ("condition", "condition"), ("cap", "cap"),
    ("cooldown", "cooldown"), ("quiet hours", "quiet_hours"), ("busy", "busy"), ("group", "group"), ("trigger", "trigger"),
    (ERROR_PREFIX, "error"),
)


class Engine:
    def __init__(
        self,
        rules: RuleSet,
        consents: ConsentLookup,
        config: EngineConfig | None = None,
        profiles: ProfileCache | None = None,
    ) -> None:
        self.rules = rules
        self.consents = consents
        self.config = config or EngineConfig()
        self.profiles = profiles or ProfileCache()
        self.counters = Counters()
        self.limits = LimitBook()
        self.clock = LocalClock(self.config.timezone)
        # (rule, scope) pairs whose actions are still running (delays): `single` rules skip them.
        self.busy: set[tuple[str, str]] = set()
        # `for:` triggers waiting: (rule, site, device) → (deadline, the event that armed it)
        self.timers: dict[tuple[str, str, str], tuple[float, Event]] = {}
        self._next_deadline = float("inf")
        self._held: set[tuple[str, str, str]] = set()  # `for:` triggers that fired and still hold
        self.explain = False  # also report rules whose trigger attributes did not match

    # -- inputs ----------------------------------------------------------------------------
    def customers_of(self, event: Event) -> set[str]:
        """Customers whose profiles should be in the cache before `process(event)`: the event's
        own, and the one identified lately where it happened (for `customer: present` rules)."""
        found = {event.customer_id} if event.customer_id else set()
        present = self.counters.present_customer(event.site, self._zones_of(event), event.received_at)
        if present is not None:
            found.add(present)
        return found

    def customers_due(self, now: float) -> set[str]:
        """Customers the `for:` triggers due by `now` may need."""
        found: set[str] = set()
        for deadline, event in self.timers.values():
            if deadline <= now:
                found |= self.customers_of(event)
        return found

    def process(self, event: Event) -> list[Decision]:
        now = event.received_at
        decisions = self.advance(now) if now >= self._next_deadline else []
        site, device = event.site, event.device
        zones = self._zones_of(event)
        self.counters.observe(event, zones)
        customer = event.customer_id
        if customer is not None and event.kind == self.config.identify_kind:
            self._identified(customer, site, zones, now)
        candidates = self.rules.for_event(event.kind, site, device, event.topic, zones)
        if not candidates:
            return decisions
        facts = Facts(
            event=event, intent=None, slots=_EMPTY, site=site, device=device, zones=zones, customer_id=None,
            profile=_EMPTY, now=now, clock=self.clock, counters=self.counters, limits=self.limits,
        )
        attributes = event.attributes
        done_groups: dict[str, str] = {}
        for rule in candidates:
            mismatch = rule.mismatch(attributes) if rule.attributes else None
            timer_key = (rule.id, site, device)
            if mismatch is not None:
                self.timers.pop(timer_key, None)
                self._held.discard(timer_key)
                if self.explain:
                    decisions.append(Decision(rule.id, False, f"trigger: {mismatch[0]} is not {mismatch[1]!r}", event.id, now))
                continue
            hold = rule.hold
            if hold is not None:
                if timer_key in self._held:
                    continue  # already fired for this stretch; re-armed once the trigger stops matching
                if timer_key not in self.timers:
                    self.timers[timer_key] = (now + hold, event)
                    self._next_deadline = min(self._next_deadline, now + hold)
                if self.explain:
                    decisions.append(Decision(rule.id, False, f"trigger: waiting {hold:g}s (for)", event.id, now))
                continue
            decisions.append(self._evaluate(rule, facts, event.customer_id, event.id, done_groups))
        return decisions

    def on_intent(
        self, site: str, intent: str, slots: Mapping[str, Any], customer_id: str | None, now: float
    ) -> list[Decision]:
        decisions = self.advance(now) if now >= self._next_deadline else []
        zones = self.rules.zones.of(site, "")
        candidates = self.rules.for_intent(intent, site, zones)
        facts = Facts(
            event=None, intent=intent, slots=slots, site=site, device="", zones=zones, customer_id=None,
            profile=_EMPTY, now=now, clock=self.clock, counters=self.counters, limits=self.limits,
        )
        done_groups: dict[str, str] = {}
        for rule in candidates:
            mismatch = next(((k, v) for k, v in rule.slots if slots.get(k, MISSING) != v), None)
            if mismatch is not None:
                if self.explain:
                    decisions.append(Decision(rule.id, False, f"trigger: slot {mismatch[0]} is not {mismatch[1]!r}", f"intent:{intent}", now))
                continue
            decisions.append(self._evaluate(rule, facts, customer_id, f"intent:{intent}", done_groups))
        return decisions

    def advance(self, now: float) -> list[Decision]:
        """Run the `for:` triggers that have held long enough by `now`."""
        if now < self._next_deadline:
            return []
        due = sorted((deadline, key) for key, (deadline, _) in self.timers.items() if deadline <= now)
        decisions: list[Decision] = []
        for deadline, key in due:
            _, event = self.timers.pop(key)
            self._held.add(key)
            rule = self.rules.rules.get(key[0])
            if rule is None or not rule.rule.enabled:
                continue  # removed by a reload meanwhile
            zones = self._zones_of(event)
            facts = Facts(
                event=event, intent=None, slots=_EMPTY, site=event.site, device=event.device, zones=zones,
                customer_id=None, profile=_EMPTY, now=deadline, clock=self.clock, counters=self.counters, limits=self.limits,
            )
            decisions.append(self._evaluate(rule, facts, event.customer_id, event.id, {}))
        self._next_deadline = min((d for d, _ in self.timers.values()), default=float("inf"))
        return decisions

    def replace_rules(self, rules: RuleSet) -> None:
        """Swap in a reloaded rule set; caps, counters and pending timers of kept rules stay."""
        self.rules = rules
        self.timers = {k: v for k, v in self.timers.items() if k[0] in rules.rules}
        self._held = {k for k in self._held if k[0] in rules.rules}
        self._next_deadline = min((d for d, _ in self.timers.values()), default=float("inf"))

    def _zones_of(self, event: Event) -> tuple[str, ...]:
        """A figure event (from the analytics part) is about the zone it names; any other event
        is in the zones its site/device belong to."""
        if event.kind.startswith(FIGURE_KIND_PREFIX):
            zone = event.attributes.get("zone")
            return (zone,) if isinstance(zone, str) else ()
        return self.rules.zones.of(event.site, event.device)

    # -- evaluation ------------------------------------------------------------------------
    def _identified(self, customer: str, site: str, zones: tuple[str, ...], now: float) -> None:
        self.counters.bind_presence(customer, site, zones, now + self.config.presence_ttl_s)
        if not self.consents.allows(customer, self.config.visit_purpose, now):
            return
        if self.counters.register_visit(customer, now, self.config.visit_gap_s):
            profile = self.profiles.get(customer) or _EMPTY
            count = profile.get("visit_count", 0)
            previous = count if isinstance(count, int) and not isinstance(count, bool) else 0
            self.profiles.update_local(customer, {"visit_count": previous + 1, "last_visit_at": now})

    def _evaluate(
        self, rule: CompiledRule, facts: Facts, event_customer: str | None, trigger: str, done_groups: dict[str, str]
    ) -> Decision:
        now = facts.now
        rule_id, purpose = rule.id, rule.purpose
        customer: str | None = None
        if purpose is not None:
            customer = event_customer
            if customer is None and rule.customer_present:
                customer = self.counters.present_customer(facts.site, facts.zones, now)
            if customer is None:
                return Decision(rule_id, False, "no customer: the event is anonymous", trigger, now, None, purpose)
            if not self.consents.allows(customer, purpose, now):
                return Decision(rule_id, False, f"no consent for {purpose}", trigger, now, customer, purpose)
        group = rule.group
        if group is not None and group in done_groups:
            return Decision(rule_id, False, f"group {group} already handled by {done_groups[group]}", trigger, now, customer, purpose)
        limits = rule.limits
        if limits.quiet and limits.quiet_now(self.clock, now):
            return Decision(rule_id, False, "quiet hours", trigger, now, customer, purpose)
        facts.customer_id = customer
        facts.profile = (self.profiles.get(customer) or _EMPTY) if customer else _EMPTY
        facts.rule_id = rule_id
        facts.scope = scope = self._scope(rule.scope_kind, facts, customer)
        index = 0
        for condition in rule.conditions:
            index += 1
            try:
                holds = condition.test(facts)
            except Exception as exc:  # noqa: BLE001 - isolation boundary per rule firing: the rule's error
                return Decision(rule_id, False, f"{ERROR_PREFIX} in condition {index}: {type(exc).__name__}: {exc}"[:500], trigger, now, customer, purpose, scope)
            if not holds:
                return Decision(rule_id, False, f"condition {index} false: {condition.description}", trigger, now, customer, purpose, scope)
        if rule.single and (rule_id, scope) in self.busy:
            return Decision(rule_id, False, "busy: still running (mode single)", trigger, now, customer, purpose, scope)
        visit = self.counters.visit_start(customer) if customer else None
        blocked = self.limits.blocked(rule_id, scope, limits, now, visit)
        if blocked is not None:
            return Decision(rule_id, False, blocked, trigger, now, customer, purpose, scope)
        self.limits.record(rule_id, scope, limits, now, visit)
        if group is not None:
            done_groups[group] = rule_id
        firing = Firing(facts, rule_id, self.profiles)
        try:
            outputs = tuple(action(firing) for action in rule.actions)
        except Exception as exc:  # noqa: BLE001 - isolation boundary per rule firing: the rule's error
            # e.g. `{{ 1000 / event.attributes.illuminance }}` with 0, or `range()` past the sandbox's
            # limit: not jinja2.TemplateError, so the template keeps none of its text. Nothing of the
            # firing is performed; the cap/cooldown already recorded stays, so a failing rule cannot spin.
            return Decision(rule_id, False, f"{ERROR_PREFIX} in an action: {type(exc).__name__}: {exc}"[:500], trigger, now, customer, purpose, scope)
        return Decision(rule_id, True, FIRED, trigger, now, customer, purpose, scope, outputs)

    @staticmethod
    def _scope(kind: str, facts: Facts, customer: str | None) -> str:
        if kind == "customer" and customer is not None:
            return f"customer:{customer}"
        if kind == "zone" and facts.zones:
            return f"zone:{facts.zones[0]}"
        if kind == "site" or (kind == "zone" and not facts.zones):
            return f"site:{facts.site}"
        if kind == "rule":
            return "rule"
        return f"device:{facts.site}/{facts.device}"
