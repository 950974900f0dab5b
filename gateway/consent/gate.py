"""The consent gate at ingest, backed by the ledger. Pure: decides and counts, no I/O.

Anonymous events pass, except those whose purpose is `on_site` (a stranger's device seen through
its anonymous id: counted in the shop, never synced). A personal event is queued for sync only with a consent valid at its
arrival for its purpose, and its sensitive attributes (transcripts) only if that purpose's policy
says the consent covers them. Without consent it is never queued: dropped, or kept locally with
the customer id and the sensitive attributes removed, as the purpose's policy says.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from gateway.consent.ledger import ConsentLedger
from gateway.consent.settings import PrivacySettings, Unconsented
from gateway.model.event import Event, with_changes
from gateway.model.gate import ON_SITE_PURPOSE, GateClass, GateDecision


class Handling(StrEnum):
    SYNCED = "synced"  # stored and queued for the central service
    LOCAL_ONLY = "local_only"  # consented but sensitive attributes the consent does not cover, or on_site
    STRIPPED = "stripped"  # kept locally without the customer id
    DROPPED = "dropped"  # not stored at all


DecisionKey = tuple[GateClass, str, Handling]


class LedgerGate:
    def __init__(self, ledger: ConsentLedger, settings: PrivacySettings) -> None:
        self._ledger = ledger
        self._settings = settings
        self._sensitive = frozenset(settings.sensitive_attributes)
        self._purposes = frozenset(settings.purposes)
        self._counts: Counter[DecisionKey] = Counter()

    def decide(self, event: Event) -> GateDecision:
        customer_id = event.customer_id
        if customer_id is None:
            sync = event.purpose != ON_SITE_PURPOSE
            self._counts[(GateClass.ANONYMOUS, event.purpose, Handling.SYNCED if sync else Handling.LOCAL_ONLY)] += 1
            return GateDecision(GateClass.ANONYMOUS, event, sync)
        self._ledger.note_seen(customer_id, event.received_at)
        policy = self._settings.policy(event.purpose)
        # A purpose outside the configured list cannot be consented to (`touchgate check` flags it).
        if event.purpose in self._purposes and self._ledger.allows(customer_id, event.purpose, event.received_at):
            sync = policy.sends_sensitive or self._sensitive.isdisjoint(event.attributes)
            self._counts[(GateClass.CONSENTED, event.purpose, Handling.SYNCED if sync else Handling.LOCAL_ONLY)] += 1
            return GateDecision(GateClass.CONSENTED, event, sync)
        if policy.unconsented is Unconsented.DROP:
            self._counts[(GateClass.UNCONSENTED, event.purpose, Handling.DROPPED)] += 1
            return GateDecision(GateClass.UNCONSENTED, None, False)
        self._counts[(GateClass.UNCONSENTED, event.purpose, Handling.STRIPPED)] += 1
        return GateDecision(GateClass.UNCONSENTED, self.strip(event), False)

    def strip(self, event: Event) -> Event:
        attributes = event.attributes
        if not self._sensitive.isdisjoint(attributes):
            attributes = {k: v for k, v in attributes.items() if k not in self._sensitive}
        return with_changes(event, customer_id=None, attributes=attributes)

    def take_counts(self) -> dict[str, int]:
        """The decisions since the last call, as "class/purpose/handling" → count (for the audit log)."""
        counts, self._counts = self._counts, Counter()
        return {f"{c.value}/{p}/{h.value}": n for (c, p, h), n in sorted(counts.items())}

    def restore_counts(self, counts: dict[str, int]) -> None:
        """Put counts back after the audit write failed, so none are lost."""
        for key, n in counts.items():
            c, p, h = key.split("/")
            self._counts[(GateClass(c), p, Handling(h))] += n
