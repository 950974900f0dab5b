"""The rules part at run time: committed events and voice intents in, actions out, state saved.

Listeners only enqueue (they run in the event loop right after ingest commits); one worker task
takes what has accumulated, makes sure the profiles it needs are cached (one read on the store
thread), runs the pure engine, starts the actions, and then saves caps, counters, local profile
changes, decision counts and audit entries in one transaction. A reload swaps the rule set
between two batches, so no event is lost or seen by half-loaded rules.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.model.event import Event
from gateway.model.gate import ConsentLookup
from gateway.rules.actions import EMITTED_DEVICE_PREFIX
from gateway.rules.counters import RETENTION_S
from gateway.rules.engine import Decision, Engine, EngineConfig
from gateway.rules.index import RuleSet
from gateway.rules.loader import file_stamps, load_rules, topics_of
from gateway.rules.profiles import ProfileCache
from gateway.rules.runner import ActionRunner, PublishFn
from gateway.rules.settings import RulesSettings
from gateway.store.database import Store, Transaction
from gateway.store.profiles import load_profiles
from gateway.store.rule_state import (
    AuditAppend,
    RuleStateWrite,
    forget_customer_state,
    load_footfall,
    load_rule_state,
    write_rule_state,
)
from gateway.waiting import wait_set

log = logging.getLogger(__name__)

# Hands events a rule emitted to ingest; resolves once they are committed (Ingest.submit_events).
EmitEvents = Callable[[list[Event]], "asyncio.Future[None]"]

_TICK_S = 0.25


@dataclass(frozen=True, slots=True)
class _Intent:
    site: str
    name: str
    slots: Mapping[str, Any]
    customer_id: str | None
    at: float


@dataclass(frozen=True, slots=True)
class _Tick:
    at: float


def engine_config(settings: RulesSettings) -> EngineConfig:
    return EngineConfig(
        presence_ttl_s=settings.presence_ttl_s, visit_gap_s=settings.visit_gap_s, visit_purpose=settings.visit_purpose,
        timezone=settings.timezone, topics=topics_of(settings),
    )


class RulesEngine:
    """What other parts use: `on_committed` (ingest listener), `on_intent` (the voice part),
    `request_reload`, `invalidate_profile` (after a profile pull), `forget_customer` (erasure)."""

    def __init__(
        self,
        settings: RulesSettings,
        rules: RuleSet,
        store: Store,
        publish: PublishFn,
        consents: ConsentLookup,
        emit: EmitEvents,
        *,
        pseudonymise: Callable[[str], str] | None = None,
        append_audit: AuditAppend | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.engine = Engine(rules, consents, engine_config(settings), ProfileCache(settings.profile_cache_s))
        self._store = store
        self._emit = emit
        self._emitting: set[asyncio.Future[None]] = set()  # emitted events not yet committed
        self._pseudonymise = pseudonymise
        self._append_audit = append_audit
        self._clock = clock
        self.runner = ActionRunner(publish, self.engine.busy)
        self._queue: list[list[Event] | _Intent | _Tick] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._reload_requested = asyncio.Event()
        self._stamps: dict[Any, float] = {}
        self._stats: dict[tuple[str, str], int] = {}
        self._audit: list[tuple[str, dict[str, Any]]] = []
        self._unsaved: RuleStateWrite | None = None
        self.recent: deque[Decision] = deque(maxlen=1000)
        self.on_decision: list[Callable[[Decision], None]] = []
        self.reload_problems: list[ConfigProblem] = []
        self.reloads = 0
        self.processed = 0
        # Rule firings whose condition or action raised, and triggers the engine itself failed on.
        self.errors = 0

    @classmethod
    async def open(cls, settings: RulesSettings, store: Store, publish: PublishFn, consents: ConsentLookup, emit: EmitEvents, **kw: Any) -> RulesEngine:
        """Load the rules (a broken file at start is a ConfigError) and the persisted state."""
        result = await asyncio.to_thread(load_rules, settings)
        if result.rules is None:
            raise ConfigError(result.problems)
        service = cls(settings, result.rules, store, publish, consents, emit, **kw)
        service._stamps = result.files
        now = service._clock()
        (limits, counters), footfall = await store.call(
            lambda db: (load_rule_state(db, now - RETENTION_S), load_footfall(db, now - RETENTION_S))
        )
        service.engine.limits.restore(limits)
        service.engine.counters.restore(counters, service.engine.rules.zones.of)
        service.engine.counters.restore_footfall(footfall)
        log.info("rules loaded", extra={"fields": {"rules": len(result.rules), "caps_restored": len(limits)}})
        return service

    # -- inputs (in the event loop; only enqueue) -----------------------------------------
    def on_committed(self, events: list[Event]) -> None:
        # Events the rules emitted themselves come back committed like any other; rules do not
        # trigger on them (a rule emitting what triggers it would loop).
        events = [e for e in events if not e.device.startswith(EMITTED_DEVICE_PREFIX)]
        if events:
            self._queue.append(events)
            self._wakeup.set()

    def on_intent(self, site: str, intent_name: str, slots: Mapping[str, Any] | None = None, customer_id: str | None = None) -> None:
        """A recognised voice intent (`hermes/intent/<name>`) as a trigger. `customer_id` is the
        customer the voice session is bound to, if any; consent is checked per rule here."""
        self._queue.append(_Intent(site, intent_name, dict(slots or {}), customer_id, self._clock()))
        self._wakeup.set()

    def request_reload(self) -> None:
        self._reload_requested.set()

    def invalidate_profile(self, customer_id: str) -> None:
        self.engine.profiles.invalidate(customer_id)

    async def forget_customer(self, customer_id: str) -> int:
        """Drop the customer from memory and delete their rules rows."""
        self.drop_from_memory(customer_id)

        def delete(db: sqlite_utils.Database) -> int:
            with Transaction(db) as conn:
                return forget_customer_state(conn, customer_id)

        return await self._store.call(delete)

    def drop_from_memory(self, customer_id: str) -> None:
        """The erasure path (the consent part's `on_erased`): its transaction already deleted the
        rules rows; what is cached here must go too, or the next save would write it back."""
        self.engine.profiles.invalidate(customer_id)
        self.engine.counters.forget_customer(customer_id)
        self.engine.counters.dirty.discard(f"visits:{customer_id}")
        prefix = f"customer:{customer_id}"
        for key in [k for k in self.engine.limits.states if k[1] == prefix]:
            del self.engine.limits.states[key]
            self.engine.limits.dirty.discard(key)

    # -- running ---------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        hup = _install_sighup(loop, self.request_reload)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._work(), name="rules-worker")
                group.create_task(self._tick(), name="rules-timers")
                group.create_task(self._watch(), name="rules-reload")
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            await self.runner.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            if self.engine.timers:
                self._queue.append(_Tick(self._clock()))
                self._wakeup.set()

    async def _watch(self) -> None:
        poll = self.settings.reload_poll_s
        while True:
            forced = await wait_set(self._reload_requested, poll if poll > 0 else None)
            self._reload_requested.clear()
            if forced or await asyncio.to_thread(file_stamps, self.settings.dir) != self._stamps:
                await self.reload()

    async def reload(self) -> list[ConfigProblem]:
        """Load the files again; on any problem keep the running rules and report."""
        result = await asyncio.to_thread(load_rules, self.settings)
        self._stamps = result.files
        if result.rules is None:
            self.reload_problems = result.problems
            for problem in result.problems:
                log.error("rules not reloaded, keeping the previous ones: %s", problem)
            return result.problems
        self.engine.replace_rules(result.rules)
        self.reload_problems = []
        self.reloads += 1
        log.info("rules reloaded", extra={"fields": {"rules": len(result.rules)}})
        return []

    async def _work(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            self._idle.clear()
            while self._queue:
                items, self._queue = self._queue, []
                await self._prefetch(items)
                for item in items:
                    self._handle(item)
                await self._flush()
            self._idle.set()

    async def drain(self) -> None:
        """Wait until everything queued so far is decided, its state saved and the events it
        emitted committed."""
        while self._queue or not self._idle.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)
        if self._emitting:
            await asyncio.wait(set(self._emitting))

    async def _prefetch(self, items: list[list[Event] | _Intent | _Tick]) -> None:
        engine = self.engine
        needed: set[str] = set()
        for item in items:
            if isinstance(item, list):
                for event in item:
                    needed |= engine.customers_of(event)
            elif isinstance(item, _Intent):
                if item.customer_id:
                    needed.add(item.customer_id)
            else:
                needed |= engine.customers_due(item.at)
        stale = engine.profiles.stale(needed, self._clock()) if needed else []
        if not stale:
            return
        loaded = await self._store.call(lambda db: load_profiles(db, stale))
        now = self._clock()
        for cid, (pulled, local) in loaded.items():
            if cid not in engine.profiles.dirty:  # an unsaved local change is newer than the store
                engine.profiles.put(cid, pulled, local, now)

    def _handle(self, item: list[Event] | _Intent | _Tick) -> None:
        engine = self.engine
        if isinstance(item, list):
            for event in item:
                self._isolated(lambda: engine.process(event), f"event {event.id}")
            self.processed += len(item)
        elif isinstance(item, _Intent):
            self._isolated(lambda: engine.on_intent(item.site, item.name, item.slots, item.customer_id, item.at), f"intent {item.name}")
        else:
            self._isolated(lambda: engine.advance(item.at), "timers")

    def _isolated(self, decide: Callable[[], list[Decision]], what: str) -> None:
        """One trigger's decisions; a failure outside any rule's firing (counters, zones) costs only
        this trigger: rules' own errors are decisions already (see Engine._evaluate)."""
        try:
            decisions = decide()
        except Exception:  # noqa: BLE001 - isolation boundary per trigger: logged and counted, rules go on
            self.errors += 1
            log.exception("rules failed on %s", what)
            return
        self._decided(decisions)

    def _decided(self, decisions: list[Decision]) -> None:
        rules = self.engine.rules.rules
        for decision in decisions:
            key = (decision.rule_id, decision.outcome)
            self._stats[key] = self._stats.get(key, 0) + 1
            if decision.fired:
                rule = rules.get(decision.rule_id)
                if rule is not None:
                    self.runner.start(rule, decision)
            outcome = decision.outcome
            if outcome == "error":
                self.errors += 1
                log.error("rule %s failed on %s: %s", decision.rule_id, decision.trigger, decision.reason)
                self._audit.append(("rules.error", self._audit_detail(decision)))
            elif decision.customer_id is not None and (decision.fired or outcome == "no_consent"):
                self._audit.append(("rules.decision", self._audit_detail(decision)))
            self.recent.append(decision)
            for listener in self.on_decision:
                try:
                    listener(decision)
                except Exception:  # noqa: BLE001 - isolation boundary per listener: logged, never fatal
                    log.exception("decision listener %r failed", listener)

    def _audit_detail(self, decision: Decision) -> dict[str, Any]:
        customer = decision.customer_id
        return {
            "rule": decision.rule_id, "outcome": decision.outcome, "reason": decision.reason, "purpose": decision.purpose,
            "trigger": decision.trigger, "customer": self._pseudonymise(customer) if self._pseudonymise and customer else None,
        }

    async def _flush(self) -> None:
        engine = self.engine
        write = RuleStateWrite(
            at=self._clock(), limits=engine.limits.take_dirty(), counters=engine.counters.take_dirty(),
            footfall=list(engine.counters.take_footfall()), profiles=list(engine.profiles.take_dirty()),
            stats=self._stats, audit=self._audit,
        )
        self._stats, self._audit = {}, []
        emitted = self.runner.take_emitted()
        if emitted:
            # Through ingest, like any event: the consent gate decides what is kept and what may
            # leave the shop, and the committed events reach every `on_committed` listener.
            committing = self._emit(emitted)
            self._emitting.add(committing)
            committing.add_done_callback(self._emitting.discard)
        if self._unsaved is not None:
            write = _merge(self._unsaved, write)
        if not write:
            return
        append_audit = self._append_audit
        try:
            await self._store.call(lambda db: write_rule_state(db, write, append_audit))
        except sqlite3.OperationalError as exc:
            # Disk full or locked: keep it in memory and try again with the next batch.
            log.error("rules state not saved (%s); retrying with the next batch", exc)
            self._unsaved = write
            return
        self._unsaved = None


def _merge(older: RuleStateWrite, newer: RuleStateWrite) -> RuleStateWrite:
    stats = dict(older.stats)
    for key, n in newer.stats.items():
        stats[key] = stats.get(key, 0) + n
    return RuleStateWrite(
        at=newer.at, limits=older.limits + newer.limits, counters=older.counters + newer.counters,
        footfall=older.footfall + newer.footfall, profiles=older.profiles + newer.profiles, stats=stats,
        audit=older.audit + newer.audit,
    )


def _install_sighup(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> bool:
    try:
        loop.add_signal_handler(signal.SIGHUP, callback)
    except (NotImplementedError, RuntimeError, ValueError):
        return False  # not the main thread, or no signals here: file polling still reloads
    return True
