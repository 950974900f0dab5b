"""Identity bound to one session, and the confirmation step, as pure state machines: fixed cases
and a hypothesis property over interleavings of taps, sessions, consents, erasures and answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.consent.ledger import ConsentLedger, Outcome
from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.hermes.dialogue import TerminationReason
from gateway.voice.confirm import Answer, Confirmations
from gateway.voice.identity import IdentityBindings
from gateway.voice.nlu.match import IntentMatch
from gateway.voice.session import Session, SessionTable

WINDOW = 20.0


def _match(intent: str, confidence: float = 1.0) -> IntentMatch:
    return IntentMatch(intent, tuple(intent.lower().split()), (), confidence, intent)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _open(identity: IdentityBindings, table: SessionTable, site: str, now: float) -> Session:
    session, aborted = table.start(site, now, "en", own=True)
    identity.opened(session)
    if aborted is not None:
        identity.closed(aborted)
    return session


def test_a_waiting_tap_binds_the_next_session_only_and_expires() -> None:
    clock = Clock()
    identity, table = IdentityBindings(WINDOW, clock), SessionTable()
    identity.tap("till", "card:A", clock.now)
    first = _open(identity, table, "till", clock.now)
    assert first.customer_id == "card:A"
    table.finish(first, TerminationReason.NOMINAL)
    identity.closed(first)
    assert first.customer_id is None and identity.customer_of("till") is None
    assert _open(identity, table, "till", clock.now).customer_id is None  # a new wake word: a new person

    identity.tap("quiet", "card:A", clock.now)
    clock.now += WINDOW + 0.1
    assert identity.waiting_at("quiet") is None
    assert _open(identity, table, "quiet", clock.now).customer_id is None


def test_a_tap_during_a_session_binds_it_and_a_barge_in_is_a_new_person() -> None:
    clock = Clock()
    identity, table = IdentityBindings(WINDOW, clock), SessionTable()
    session = _open(identity, table, "till", clock.now)
    identity.tap("till", "card:A", clock.now)
    assert session.customer_id == "card:A" and identity.waiting_at("till") is None
    barged = _open(identity, table, "till", clock.now)
    assert barged.customer_id is None and session.customer_id is None


def test_erasure_unbinds_the_customer_everywhere() -> None:
    clock = Clock()
    identity, table = IdentityBindings(WINDOW, clock), SessionTable()
    session = _open(identity, table, "till", clock.now)
    identity.tap("till", "card:A", clock.now)
    identity.tap("door", "card:A", clock.now)
    identity.forget_customer("card:A")
    assert session.customer_id is None and identity.waiting_at("door") is None


def test_only_a_clear_yes_from_the_same_customer_confirms() -> None:
    session = Session("till", "s1", True, 0.0, "en", customer_id="card:A")
    confirmations = Confirmations(0.5)
    forget = _match("ForgetMe")
    assert confirmations.ask(session, forget, "ConfirmErase")
    decision = confirmations.answer(session, _match("ConfirmErase"))
    assert decision is not None and decision.answer is Answer.CONFIRMED and decision.pending.asked is forget
    assert confirmations.answer(session, _match("ConfirmErase")) is None  # used up

    for answer in (None, _match("GetOpeningHours"), _match("ConfirmErase", 0.3)):
        confirmations.ask(session, forget, "ConfirmErase")
        decision = confirmations.answer(session, answer)
        assert decision is not None and decision.answer is Answer.CANCELLED

    confirmations.ask(session, forget, "ConfirmErase")
    session.customer_id = "card:B"
    decision = confirmations.answer(session, _match("ConfirmErase"))
    assert decision is not None and decision.answer is Answer.CANCELLED

    unbound = Session("till", "s2", True, 0.0, "en")
    assert not confirmations.ask(unbound, forget, "ConfirmErase")


# -- the property: whatever the interleaving, a session is bound only to a customer who tapped for it
SITES = ("till", "door")
CUSTOMERS = ("card:A", "card:B")
steps = st.lists(
    st.one_of(
        st.tuples(st.just("tap"), st.sampled_from(SITES), st.sampled_from(CUSTOMERS)),
        st.tuples(st.just("open"), st.sampled_from(SITES), st.none()),
        st.tuples(st.just("close"), st.sampled_from(SITES), st.none()),
        st.tuples(st.just("forget"), st.none(), st.sampled_from(CUSTOMERS)),
        st.tuples(st.just("wait"), st.floats(0, 2 * WINDOW), st.none()),
        st.tuples(st.just("ask"), st.sampled_from(SITES), st.none()),
        st.tuples(st.just("yes"), st.sampled_from(SITES), st.none()),
        # A touchpoint decision on personalisation: granted or revoked, decided now or a moment
        # ago (arriving late); then a personal answer at a site.
        st.tuples(st.just("consent"), st.sampled_from(["granted", "revoked"]), st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from([0.0, -5.0]))),
        st.tuples(st.just("answer"), st.sampled_from(SITES), st.none()),
    ),
    max_size=40,
)


@dataclass
class Reference:
    """What may be bound, written independently: per session, the customer who tapped for it."""

    waiting: dict[str, tuple[str, float]] = field(default_factory=dict)
    bound: dict[str, str | None] = field(default_factory=dict)  # session id → customer
    asked_by: dict[str, str] = field(default_factory=dict)  # session id → customer asked to confirm
    # customer → (status, decided at) of their personalisation consent: the last decision wins,
    # at the same time the more protective one; an erasure forgets it.
    consent: dict[str, tuple[str, float]] = field(default_factory=dict)

    def decide(self, customer: str, status: str, at: float) -> None:
        held = self.consent.get(customer)
        if held is None or at > held[1] or (at == held[1] and status != "granted"):
            self.consent[customer] = (status, at)

    def personal(self, session_id: str) -> str | None:
        """Whom an answer in this session may be personal about: its own tapped customer, with
        their personalisation consent granted."""
        customer = self.bound.get(session_id)
        if customer is None or self.consent.get(customer, ("none", 0.0))[0] != "granted":
            return None
        return customer


# Always tried: a revocation and a grant at the same instant (the revocation stands), a grant
# that arrives late behind a revocation, and an answer after the customer was erased.
@example([("tap", "till", "card:A"), ("open", "till", None), ("consent", "revoked", ("card:A", 0.0)),
          ("consent", "granted", ("card:A", 0.0)), ("answer", "till", None)])
@example([("consent", "granted", ("card:A", 0.0)), ("tap", "till", "card:A"), ("open", "till", None),
          ("answer", "till", None), ("consent", "revoked", ("card:A", 0.0)), ("consent", "granted", ("card:A", -5.0)),
          ("answer", "till", None), ("forget", None, "card:A"), ("tap", "till", "card:A"), ("answer", "till", None)])
# Found by this test: a revocation repeated later, then a grant at the repeat's instant (the
# ledger kept the first revocation's time, so the grant beat it).
@example([("tap", "door", "card:A"), ("open", "door", None), ("consent", "revoked", ("card:A", -5.0)),
          ("consent", "revoked", ("card:A", 0.0)), ("consent", "granted", ("card:A", 0.0)), ("answer", "door", None)])
@settings(max_examples=300, deadline=None)
@given(steps)
def test_bindings_follow_taps_and_sessions_in_any_order(plan: list[tuple[str, object, object]]) -> None:
    clock = Clock()
    identity, table, confirmations, ref = IdentityBindings(WINDOW, clock), SessionTable(), Confirmations(0.5), Reference()
    ledger = ConsentLedger(lambda c: f"p:{c}", WINDOW)
    erased: list[str] = []
    for action, where, who in plan:
        site = where if isinstance(where, str) else None
        live = table.at(site) if site else None
        if action == "tap" and site and isinstance(who, str):
            identity.tap(site, who, clock.now)
            if live is not None:
                ref.bound[live.session_id] = who
                ref.waiting.pop(site, None)
            else:
                ref.waiting[site] = (who, clock.now + WINDOW)
        elif action == "open" and site:
            if live is not None:
                ref.bound.pop(live.session_id, None)
                confirmations.forget(live.session_id)
            session = _open(identity, table, site, clock.now)
            waiting = ref.waiting.pop(site, None)
            ref.bound[session.session_id] = waiting[0] if waiting and clock.now <= waiting[1] else None
        elif action == "close" and live is not None:
            table.finish(live, TerminationReason.NOMINAL)
            identity.closed(live)
            confirmations.forget(live.session_id)
            ref.bound.pop(live.session_id, None)
        elif action == "forget" and isinstance(who, str):
            identity.forget_customer(who)
            ledger.forget(who, clock.now)
            ref.consent.pop(who, None)
            ref.waiting = {s: w for s, w in ref.waiting.items() if w[0] != who}
            ref.bound = {k: (None if c == who else c) for k, c in ref.bound.items()}
        elif action == "wait" and isinstance(where, float):
            clock.now += where
        elif action == "ask" and live is not None:
            if confirmations.ask(live, _match("ForgetMe"), "ConfirmErase"):
                ref.asked_by[live.session_id] = live.customer_id or ""
        elif action == "yes" and live is not None:
            decision = confirmations.answer(live, _match("ConfirmErase"))
            if decision is not None and decision.answer is Answer.CONFIRMED:
                # Erase only the customer who was asked, in the session they were asked in.
                assert decision.pending.customer_id == ref.asked_by[live.session_id] == live.customer_id
                erased.append(decision.pending.customer_id)
        elif action == "consent" and isinstance(where, str) and isinstance(who, tuple):
            customer, offset = who
            record = ConsentRecord(customer_id=customer, purpose="personalisation", status=ConsentStatus(where),
                                   changed_at=clock.now + offset, source=ConsentSource.TOUCHPOINT)
            if ledger.plan(record, clock.now).outcome is Outcome.APPLY:
                ledger.put(record)
            ref.decide(customer, where, clock.now + offset)
        elif action == "answer" and live is not None:
            # What the voice part's profiles do (gateway/voice/profiles.py): personal data only for
            # the session's customer, and only with their personalisation consent valid now.
            customer = live.customer_id
            personal = customer if customer is not None and ledger.allows(customer, "personalisation", clock.now) else None
            assert personal == ref.personal(live.session_id), (plan, personal)
        for session in table.by_site.values():
            assert session.customer_id == ref.bound.get(session.session_id), (action, where, who)
    assert all(c in CUSTOMERS for c in erased)
