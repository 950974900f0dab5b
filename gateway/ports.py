"""The ports parts offer each other: small protocols, and one typed key for each.

A part names the ports it needs (`requires`), those it uses when present (`uses`) and those it
offers (`provides`); the composition root (gateway/app.py) orders the parts by them and hands each
part a `Ports` view holding what the parts built before it offered. This module is low on
purpose: it imports only the pure model and Hermes message modules, never a part, so every part
can depend on it and none on another's internals.

What always exists is not a port but part of the core (gateway/part.py): publishing over MQTT
(`Publish`), the dead-letter sink (`DeadLetterSink`), the store, ingest and the metrics.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncGenerator, Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from gateway.hermes.tts import SayOutcome, TtsSay
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event
from gateway.model.figures import FigureChange
from gateway.model.gate import ConsentGate, ConsentLookup
from gateway.model.inbound import InboundMessage

T = TypeVar("T")

__all__ = [
    "DERIVE_SECRET", "DeriveSecret", "FIGURE_INTAKE", "FigureIntake", "OUTBOX_FEED", "OutboxFeed", "ZONE_FIGURES", "ZONE_MAP",
    "ZoneFigures", "ZoneMap",
    "AUDIT_APPEND", "AuditAppend", "CONSENT_FEED", "CONSENT_GATE", "CONSENT_LOOKUP", "CENTRAL_LINK", "CUSTOMER_RECORDS", "INTENT_SINK", "PROFILE_CHANGES",
    "PSEUDONYMISE", "REPLY_TEMPLATES", "ReplyTemplates", "RULE_CATALOGUE", "SITE_AUDIO", "SPEAKER", "SPEECH_SERVICES", "SYNTHESISER", "CentralLinkState", "CommittedListener", "ConsentFeed", "ConsentGate",
    "ConsentLookup", "CustomerRecords", "DeadLetterListener", "DeadLetterSink", "ErasureSummary", "IntentSink",
    "Port", "Ports", "ProfileChanges", "Pseudonymise", "Publish", "RuleCatalogue", "Speaker",
    "HandleResult", "RecognisedIntent", "ReplySpeaker", "SiteAudio", "SpeechFailed", "SpeechServices", "SynthesisedReply", "Synthesise",
]


# -- what the core offers every part ---------------------------------------------------------
class Publish(Protocol):
    """Queue an MQTT message; never raises for a down broker (see gateway/mqtt.py)."""

    def __call__(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None: ...


DeadLetterSink = Callable[[InboundMessage, DeadLetterReason, str], None]
CommittedListener = Callable[[list[Event]], None]
DeadLetterListener = Callable[[list[DeadLetter]], None]


# -- consent ---------------------------------------------------------------------------------
Pseudonymise = Callable[[str], str]
# A secret for one named purpose (`purpose` -> at least 32 bytes), derived from the store's
# pseudonym key: a part that needs a keyed hash of its own (analytics' daily salt) gets a key no
# other use shares, and never the pseudonym key itself.
DeriveSecret = Callable[[str], bytes]
# Append one entry to the hash-chained audit log, inside the caller's transaction: (conn, kind,
# detail, at) -> seq. What a part audits commits with the change it audits.
AuditAppend = Callable[[sqlite3.Connection, str, dict[str, Any], float], int]


@dataclass(frozen=True, slots=True)
class ErasureSummary:
    """What an erasure removed, per table; `erasure_id` names the record queued upstream (0: none)."""

    erasure_id: int
    pseudonym: str
    deleted: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


class CustomerRecords(Protocol):
    """Erasure and export of one customer's local data (GDPR art. 17 and 15), audited by the
    consent part. `source` is who asked: "touchpoint" (the customer) or "operator"."""

    async def erase(self, customer_id: str, source: str) -> ErasureSummary: ...

    async def export(self, customer_id: str) -> dict[str, Any]:
        """Everything stored about the customer, as JSON-ready data (`tables`, `audit`, ...)."""
        ...

    def on_erased(self, listener: Callable[[str], None]) -> None:
        """Call `listener(customer_id)` after each erasure (parts that hold customers in memory)."""
        ...


class ConsentFeed(Protocol):
    """Consent changes pulled from the central service, applied to the ledger (audited, lost
    consents enforced). `changes` are `gateway.consent.model.ConsentChange`s."""

    async def apply_changes(self, changes: Sequence[Any], source: Any = ...) -> Any: ...


# -- rules -----------------------------------------------------------------------------------
class IntentSink(Protocol):
    def on_intent(self, site: str, intent_name: str, slots: Mapping[str, Any] | None = None, customer_id: str | None = None) -> None: ...


class ProfileChanges(Protocol):
    def invalidate_profile(self, customer_id: str) -> None:
        """A customer's profile changed in the store (pulled from the central service)."""
        ...


class RuleCatalogue(Protocol):
    """The rules the operator may list and reload, and their firings (the admin API's view)."""

    def describe(self) -> Sequence[Mapping[str, Any]]: ...

    async def reload(self) -> tuple[int, list[str]]:
        """Reload from disk: (rules loaded, problems); nothing changes when there are problems."""
        ...

    def on_fired(self, listener: Callable[[str, str | None, str], None]) -> None:
        """`listener(rule_id, event_id or None for an intent, detail)` for every rule that fires."""
        ...


class FigureIntake(Protocol):
    """Zone figures as triggers (`trigger: {figure: queue_length, zone: checkout, above: 5}`):
    the analytics part hands every change here; they are never stored."""

    def on_figures(self, site: str, changes: Sequence[FigureChange]) -> None: ...


class ZoneMap(Protocol):
    """The shop's zones (the rules' `zones:`), as the live rule set has them: a reload that
    changes them applies at once."""

    def zones_of(self, site: str, device: str) -> tuple[str, ...]: ...

    def names(self) -> frozenset[str]: ...


# -- analytics -------------------------------------------------------------------------------
class ZoneFigures(Protocol):
    """The live figures per zone (`live()`: zone -> figure -> value) and each zone's role
    (`roles()`: zone -> "entrance", "checkout", ...): what the admin API and the page show."""

    def live(self) -> dict[str, dict[str, float]]: ...

    def roles(self) -> dict[str, str]: ...


# -- speech ----------------------------------------------------------------------------------
class Speaker(Protocol):
    """The gateway's own TTS service, spoken to in-process by the dialogue manager."""

    def submit(self, say: TtsSay, received_at: float | None = None, published: bool = False) -> asyncio.Future[SayOutcome]: ...


class ReplySpeaker(Protocol):
    async def speak(self, say: TtsSay) -> SayOutcome:
        """Speak `say` (which carries an id) on its site; returns once it was played or given up on."""
        ...


class ReplyTemplates(Protocol):
    """The TTS part's phrasebook: the replies a part will say, as `str.format` templates per
    language (fixed texts have no slot), so their fixed words can be made ahead and a reply's
    first audio is a cache hit (docs/tts.md, "Replies made ahead")."""

    def add_template(self, language: str, template: str) -> None: ...


class SpeechFailed(Exception):
    """Speech could not be made (the text, the voice, the engine): the message says why."""


class SynthesisedReply(Protocol):
    @property
    def wav(self) -> bytes: ...

    @property
    def duration_s(self) -> float: ...


class Synthesise(Protocol):
    """The TTS part's voices, for transports that carry the audio themselves (Wyoming streams it
    on its own connection instead of Hermes playBytes). Raises SpeechFailed."""

    async def reply(self, text: str, site_id: str, lang: str | None = None, volume: float | None = None) -> SynthesisedReply: ...

    def stream(self, text: str, site_id: str, lang: str | None = None, volume: float | None = None) -> AsyncGenerator[SynthesisedReply, None]:
        """The reply in parts (a sentence each where the voice streams), each WAV ready as soon
        as it is synthesised. Close it early (contextlib.aclosing) and the rest is not synthesised."""
        ...


class SiteAudio(Protocol):
    """The voice part's dialogue core, whatever carries a site's audio. Hermes speakers reach it
    over MQTT; another transport (Wyoming satellites) feeds it here: a wake, 16 kHz mono 16-bit
    audio, the end of the audio; it hears each turn's transcript and speaks the sites it serves.

    `speak_through` is how such a transport's speaker joins the voice part's own (the TTS part
    or a Hermes TTS service): the transport both feeds the dialogue core and is spoken through
    by it, so it declares its sites when it is built rather than offering a port the voice part
    would need before it exists (a circle). A site may be taken by one transport only."""

    def wake(self, site_id: str, wake_word: str) -> None: ...

    def audio(self, site_id: str, pcm: bytes) -> None:
        """Audio for the site's utterance in progress; dropped when none is."""
        ...

    def audio_ended(self, site_id: str) -> None: ...

    def in_session(self, site_id: str) -> bool: ...

    def listening(self, site_id: str) -> bool: ...

    def end_session(self, site_id: str) -> None:
        """End the site's session if the gateway opened it (its transport went away)."""
        ...

    def on_transcript(self, listener: Callable[[str, str], None]) -> None:
        """`listener(site_id, text)` after each utterance is recognised."""
        ...

    def speak_through(self, site_ids: Collection[str], speaker: ReplySpeaker) -> None:
        """Replies to these sites are spoken by `speaker`; ValueError if a site is taken."""
        ...


@dataclass(frozen=True, slots=True)
class RecognisedIntent:
    name: str
    slots: Mapping[str, Any]
    text: str


@dataclass(frozen=True, slots=True)
class HandleResult:
    handled: bool
    text: str  # the skill's reply, the question asked back, or what the speaker can help with
    # Set when the text is a question asked back (an effectful intent not sure enough): the key
    # the answer is expected under (`handle(..., conversation=)`), which confirms or declines.
    asked: str | None = None


class SpeechServices(Protocol):
    """The voice part's recogniser, intents and skills as one-shot services (the Wyoming server
    offers them to Home Assistant): no session, no site table."""

    @property
    def recogniser_name(self) -> str: ...

    def languages(self) -> Sequence[str]: ...

    def language_for(self, site_id: str, requested: str | None) -> str:
        """The requested language when a site speaks it, else the site's own."""
        ...

    async def transcribe(self, pcm: bytes, language: str, pool: Executor) -> str:
        """16 kHz mono 16-bit audio to text ("" when not confident), decoded on `pool`."""
        ...

    def recognise(self, text: str, language: str) -> RecognisedIntent | None:
        """The intent the effect guard would act on, or None."""
        ...

    async def handle(self, site_id: str, text: str, language: str, conversation: str | None = None) -> HandleResult:
        """A one-turn conversation: intent, rules (the intent sink), the skill's reply.
        `conversation`: the caller's id of the conversation (or a previous result's `asked`):
        a question asked back in it is answered by the next text sent with it."""
        ...


# -- sync ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CentralLinkState:
    configured: bool
    state: str | None = None
    last_success_at: float | None = None
    last_error: str = ""


CentralLink = Callable[[], CentralLinkState]


class OutboxFeed(Protocol):
    def queued(self) -> None:
        """Rows were put in the outbox outside ingest (a part's own transaction): send soon."""
        ...


# -- the keys --------------------------------------------------------------------------------
class Port(Generic[T]):
    """A typed key for one port: `ports.require(CONSENT_LOOKUP)` is a `ConsentLookup`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Port({self.name!r})"


CONSENT_LOOKUP: Port[ConsentLookup] = Port("consent lookup")
CONSENT_GATE: Port[ConsentGate] = Port("consent gate")
PSEUDONYMISE: Port[Pseudonymise] = Port("pseudonymiser")
AUDIT_APPEND: Port[AuditAppend] = Port("audit log")
CONSENT_FEED: Port[ConsentFeed] = Port("consent feed")
CUSTOMER_RECORDS: Port[CustomerRecords] = Port("customer records (erasure, export)")
INTENT_SINK: Port[IntentSink] = Port("intent sink")
PROFILE_CHANGES: Port[ProfileChanges] = Port("profile changes")
RULE_CATALOGUE: Port[RuleCatalogue] = Port("rule catalogue")
SPEAKER: Port[Speaker] = Port("speaker")
SYNTHESISER: Port[Synthesise] = Port("speech synthesiser")
REPLY_TEMPLATES: Port[ReplyTemplates] = Port("reply templates (made ahead)")
SITE_AUDIO: Port[SiteAudio] = Port("site audio (the dialogue core)")
SPEECH_SERVICES: Port[SpeechServices] = Port("speech services (transcribe, recognise, handle)")
CENTRAL_LINK: Port[CentralLink] = Port("central link")
OUTBOX_FEED: Port[OutboxFeed] = Port("outbox feed")
DERIVE_SECRET: Port[DeriveSecret] = Port("derived secrets")
FIGURE_INTAKE: Port[FigureIntake] = Port("figure intake")
ZONE_MAP: Port[ZoneMap] = Port("zone map")
ZONE_FIGURES: Port[ZoneFigures] = Port("zone figures")


class MissingPort(LookupError):
    pass


class Ports:
    """What the parts built so far offer. Read-only for a part: it offers through what `build`
    returns, and the root adds it here."""

    def __init__(self, offered: Mapping[Port[Any], object] | None = None) -> None:
        self._offered: dict[Port[Any], object] = dict(offered or {})

    def require(self, port: Port[T]) -> T:
        if port not in self._offered:
            raise MissingPort(f"no part offers the {port.name}")
        return self._offered[port]  # type: ignore[return-value]

    def optional(self, port: Port[T]) -> T | None:
        return self._offered.get(port)  # type: ignore[return-value]

    def __contains__(self, port: object) -> bool:
        return port in self._offered

    def with_offers(self, offers: Mapping[Port[Any], object]) -> Ports:
        return Ports({**self._offered, **offers})

