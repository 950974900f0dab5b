"""Consent and erasure messages from touchpoints over MQTT.

Topics: `touchgate/<site>/consent` (`ConsentMessage`) and `touchgate/<site>/erasure`
(`ErasureMessage`). Messages are handled one at a time in arrival order, acknowledged to the broker
only once their effect is committed; what cannot be accepted is dead-lettered with the reason
(malformed, unknown purpose, unknown customer, a site that is not a configured touchpoint, an
erasure naming neither this gateway's site nor a configured touchpoint, a decision older than
the one held), and every refusal is audited (`consent.refused`, keyed hash
only). Dead-letter details never carry the customer id.

Because a message is acknowledged only after its work, one that kills the process (a native crash,
an OOM kill) would come back after every restart. The sensor path's quarantine covers it here too
(gateway/quarantine.py): a redelivery (DUP) is marked in flight before it is worked on, and one
still marked when it comes back is dead-lettered `poison`. A Python exception while working on one
message is that message's dead letter (`internal_error`, the exception's type only: its text may
carry the customer id); a failing store (sqlite3.OperationalError) is retried, never dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from gateway.backoff import Backoff
from gateway.consent.model import ConsentMessage, ConsentRecord, ConsentSource, ErasureMessage
from gateway.consent.service import ConsentService
from gateway.model.deadletter import DeadLetterReason
from gateway.model.inbound import InboundMessage
from gateway.quarantine import Quarantine
from gateway.retained_commands import refuse_if_retained

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

CONSENT_SUBSCRIPTION = "touchgate/+/consent"
ERASURE_SUBSCRIPTION = "touchgate/+/erasure"

DeadLetterSink = Callable[[InboundMessage, DeadLetterReason, str], None]
Acker = Callable[[InboundMessage], None]


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: DeadLetterReason
    detail: str


def _validate(model: type[M], message: InboundMessage) -> M | Rejection:
    try:
        return model.model_validate_json(message.payload)
    except ValidationError as exc:
        # Field paths and messages only: pydantic's `input` would echo the customer id.
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"])) or "payload"
        return Rejection(DeadLetterReason.INVALID_CONSENT, f"{model.__name__}: {where}: {first['msg']}")


def parse_consent(message: InboundMessage, purposes: frozenset[str]) -> ConsentMessage | Rejection:
    parsed = _validate(ConsentMessage, message)
    if isinstance(parsed, Rejection):
        return parsed
    unknown = sorted(set(parsed.purposes) - purposes)
    if unknown:
        return Rejection(DeadLetterReason.UNKNOWN_PURPOSE, f"unknown purpose(s) {unknown}; known: {sorted(purposes)}")
    if len(set(parsed.purposes)) != len(parsed.purposes):
        return Rejection(DeadLetterReason.INVALID_CONSENT, "a purpose is listed twice")
    at = decision_time(parsed, message)
    if parsed.expires_at is not None and parsed.expires_at <= at:
        return Rejection(DeadLetterReason.INVALID_CONSENT, "expires_at is not after the decision time")
    return parsed


def decision_time(parsed: ConsentMessage, message: InboundMessage) -> float:
    """When the customer decided: the touchpoint's `at`, never later than the message's arrival.
    A touchpoint clock ahead of ours would otherwise pin a grant in the future, and the customer's
    real revocation, arriving before that time, would be skipped as older (the stated skew for
    touchpoint times is zero; held decisions further ahead than ledger.CLOCK_SKEW_S are in doubt)."""
    return message.received_at if parsed.at is None else min(parsed.at, message.received_at)


def site_of(message: InboundMessage) -> str:
    """`touchgate/<site>/consent` → site."""
    parts = message.topic.split("/")
    return parts[1] if len(parts) == 3 else ""


def parse_erasure(message: InboundMessage) -> ErasureMessage | Rejection:
    return _validate(ErasureMessage, message)


class ConsentInbox:
    def __init__(
        self, service: ConsentService, ack: Acker, dead_letter: DeadLetterSink, own_site: str, quarantine: Quarantine | None = None
    ) -> None:
        self._service = service
        self._quarantine = quarantine
        self._ack = ack
        self._dead_letter = dead_letter
        self._purposes = frozenset(service.settings.purposes)
        sites = service.settings.touchpoint_sites
        self._sites = frozenset(sites) if sites is not None else None
        # An erasure is irreversible and goes upstream to every shop of the chain: it must name
        # this gateway's own site or one of its listed touchpoint sites, never just any site.
        self._erasure_sites = frozenset({own_site, *(sites or ())})
        self._queue: asyncio.Queue[tuple[str, InboundMessage]] = asyncio.Queue()
        self.handled = 0
        self.rejected = 0
        self.failed = 0  # messages whose work raised: dead-lettered internal_error

    def on_consent(self, message: InboundMessage) -> None:
        if refuse_if_retained(message, self._dead_letter):
            self.rejected += 1
            return
        self._queue.put_nowait(("consent", message))

    def on_erasure(self, message: InboundMessage) -> None:
        if refuse_if_retained(message, self._dead_letter):
            self.rejected += 1
            return
        self._queue.put_nowait(("erasure", message))

    async def run(self) -> None:
        backoff = Backoff(0.05, 5.0)
        while True:
            kind, message = await self._queue.get()
            while True:
                try:
                    await self._handle(kind, message)
                    break
                except sqlite3.OperationalError as exc:
                    # The store is failing (disk full, locked): keep the message unacknowledged and
                    # retry it, in order, rather than lose a customer's decision.
                    delay = backoff.next_delay()
                    log.error("consent message not stored (%s); retrying in %.2fs", exc, delay)
                    await asyncio.sleep(delay)
            backoff.reset()

    async def _handle(self, kind: str, message: InboundMessage) -> None:
        suspect = None
        if self._quarantine is not None and self._quarantine.is_suspect(message):
            # Retried after a failed store: `begin` knows the key and counts no second strike.
            key, poison = await self._quarantine.begin(message)
            suspect = key
            if poison:
                await self._reject(kind, message, Rejection(DeadLetterReason.POISON, "in flight at two unclean stops in a row"))
                await self._quarantine.forget(key)
                return
        try:
            await (self._consent(message) if kind == "consent" else self._erasure(message))
        except sqlite3.OperationalError:
            raise  # the store, not the message: retried by `run`
        except Exception as exc:  # noqa: BLE001 - isolation boundary per message: it alone is dead-lettered
            log.exception("working on a %s message failed", kind)
            self.failed += 1
            self.rejected += 1
            # Not audited like a refusal: the audit write may be what failed, and this boundary must hold.
            self._dead_letter(message, DeadLetterReason.INTERNAL_ERROR, f"{kind}: {type(exc).__name__}")
        if suspect is not None and self._quarantine is not None:
            await self._quarantine.forget(suspect)

    async def _reject(self, kind: str, message: InboundMessage, rejection: Rejection, customer_id: str | None = None) -> None:
        """Audited (keyed hash only), then dead-lettered: the dead letter acknowledges it."""
        await self._service.audit_refusal(kind, site_of(message), rejection.reason.value, customer_id)
        self._dead_letter(message, rejection.reason, rejection.detail)
        self.rejected += 1

    def _site_refused(self, message: InboundMessage) -> Rejection | None:
        site = site_of(message)
        if self._sites is None or site in self._sites:
            return None
        return Rejection(DeadLetterReason.UNKNOWN_SITE, f"site {site!r} is not in privacy.touchpoint_sites")

    async def _consent(self, message: InboundMessage) -> None:
        parsed = self._site_refused(message) or parse_consent(message, self._purposes)
        if isinstance(parsed, Rejection):
            await self._reject("consent", message, parsed)
            return
        if not await self._service.is_known(parsed.customer_id):
            await self._reject(
                "consent",
                message,
                Rejection(
                    DeadLetterReason.UNKNOWN_CUSTOMER,
                    f"customer {self._service.pseudonymise(parsed.customer_id)} has no consent or profile here"
                    " and was not seen at a touchpoint lately",
                ),
                parsed.customer_id,
            )
            return
        at = decision_time(parsed, message)
        records = [
            ConsentRecord(
                customer_id=parsed.customer_id,
                purpose=purpose,
                status=parsed.status,
                changed_at=at,
                source=ConsentSource.TOUCHPOINT,
                expires_at=parsed.expires_at,
            )
            for purpose in parsed.purposes
        ]
        result = await self._service.apply_records(records)
        self.handled += 1
        stale = result.skipped.get("stale", 0) + result.skipped.get("before_erasure", 0)
        if stale:  # applied where it could be; what was not is audited (consent.skipped) and kept here
            detail = f"{stale} of {len(records)} purpose(s) older than the decision held (last decision wins)"
            self._dead_letter(message, DeadLetterReason.STALE_CONSENT, detail)
            return
        self._ack(message)

    def _erasure_site_refused(self, message: InboundMessage) -> Rejection | None:
        site = site_of(message)
        if site in self._erasure_sites:
            return None
        listed = ", ".join(sorted(self._erasure_sites))
        return Rejection(DeadLetterReason.UNKNOWN_SITE, f"site {site!r} is not this gateway's site or a touchpoint site ({listed})")

    async def _erasure(self, message: InboundMessage) -> None:
        parsed = self._erasure_site_refused(message) or parse_erasure(message)
        if isinstance(parsed, Rejection):
            await self._reject("erasure", message, parsed)
            return
        if not await self._service.is_known(parsed.customer_id):
            # Nothing of theirs is here to erase, and an erasure also goes upstream: a touchpoint
            # may ask it only for a customer this shop knows or saw lately.
            refusal = Rejection(
                DeadLetterReason.UNKNOWN_CUSTOMER,
                f"customer {self._service.pseudonymise(parsed.customer_id)} is not known here: nothing erased, nothing sent upstream",
            )
            await self._reject("erasure", message, refusal, parsed.customer_id)
            return
        await self._service.forget(parsed.customer_id, ConsentSource.TOUCHPOINT)
        self.handled += 1
        self._ack(message)
