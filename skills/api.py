"""The skills API: what a skill declares and what its handlers get and return.

A skill is data plus async handlers, with no I/O of its own: it reads the shop's data and the
customer's profile from its context and asks for effects (speak, publish a notification, erase)
through the context's small protocols, which the voice part supplies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


# -- the shop's data (skills/data/*.yaml, validated at start) -----------------------------------
class Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    aisle: int = Field(ge=0, le=999)
    category: str
    names: dict[str, list[str]] = Field(description="language → ways customers say it (template syntax)")
    written: dict[str, list[str]] = Field(
        default_factory=dict, description="language → names only the text fallback reads (brands, words no recogniser can say)"
    )


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    category: str
    text: dict[str, str]


class StoreInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    opening_hours: dict[str, str] = Field(description="weekday (monday..sunday) → e.g. '8:00–20:00' or 'closed'")
    offers: list[Offer] = Field(default_factory=list)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    products: list[Product]

    def product(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)


@dataclass(frozen=True, slots=True)
class ShopData:
    store: StoreInfo
    catalogue: Catalogue


# -- what a handler gets --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IntentInfo:
    name: str
    slots: Mapping[str, Any]
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class SessionInfo:
    site_id: str
    session_id: str
    lang: str


@dataclass(frozen=True, slots=True)
class Customer:
    """The customer bound to the site (card tap). `profile` is their local profile, present only
    when they consented to personalisation; None otherwise."""

    id: str
    profile: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """What the gateway holds about a customer, for "what do you know about me"."""

    events: int
    profile_attributes: Sequence[str]
    consents: Mapping[str, str]  # purpose → status
    loyalty_points: int | None = None  # what an erasure would lose, said in its confirmation question


class PrivacyActions(Protocol):
    """The consent part's erasure and export, as the privacy skill needs them."""

    async def forget(self, customer_id: str) -> int | None:
        """Erase every local row of the customer (and queue the erasure upstream); rows erased,
        or None where erasure is not available."""
        ...

    async def describe(self, customer_id: str) -> CustomerSummary: ...


@dataclass(frozen=True, slots=True)
class SkillContext:
    intent: IntentInfo
    session: SessionInfo
    customer: Customer | None
    shop: ShopData
    privacy: PrivacyActions
    now: datetime
    confirmed: bool = False  # the customer said a clear yes to this handler's `Reply.confirm` question

    @property
    def lang(self) -> str:
        return self.session.lang


# -- what a handler returns -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Notify:
    """Publish a JSON notification to a named target ("staff"); the voice part maps targets to
    MQTT topics from its settings, so skills know no topics."""

    target: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """What to say; then end the session, or (`end_session=False`) listen for the customer's
    answer, recognised only as one of `intent_filter` when given (a follow-up question).

    `confirm` makes `say` a confirmation question before something irreversible: the customer's
    answer is recognised only as the intent named here (the yes), and a clear yes in the same
    session from the same bound customer runs this handler again with `ctx.confirmed` True;
    anything else cancels (the voice part says so). `end_session` and `intent_filter` are
    ignored then."""

    say: str | None
    end_session: bool = True
    notify: tuple[Notify, ...] = ()
    intent_filter: tuple[str, ...] | None = None
    confirm: str | None = None


Handler = Callable[[SkillContext], Awaitable[Reply]]


@dataclass(frozen=True)
class Skill:
    """`sentences`: language → sentences.ini text; `handlers`: intent name → handler; `lists`:
    slot lists the skill brings (list name → language → values in template syntax, `said:value`);
    `external`: intents with sentences but no handler here – an external Hermes skill answers them
    with `dialogueManager/endSession` or `continueSession`; `effectful`: intents that change
    something (call staff, erase, spend points): the voice part runs them only when it is sure
    of what it heard, and asks back otherwise."""

    name: str
    sentences: Mapping[str, str]
    handlers: Mapping[str, Handler]
    lists: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    external: frozenset[str] = frozenset()
    effectful: frozenset[str] = frozenset()
    confirmed: frozenset[str] = frozenset()  # intents whose handler asks for an explicit yes (Reply.confirm) before acting
    # intents that only answer the speaker's questions (yes, no): recognised only in a turn whose
    # intent filter names them (the effect guard's ask-back), never as a request of their own
    answers: frozenset[str] = frozenset()
    # language → intent → key-word rules (gateway/voice/nlu/keywords.py): the fallback for text no
    # sentence parses, e.g. "staff|colleague* + call|get|need ! taxi"; its intents are never sure
    # enough to act on an effectful intent without asking back
    keywords: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)


def text(ctx: SkillContext, by_lang: Mapping[str, str], **values: Any) -> str:
    """The reply in the session's language (English when there is none for it)."""
    template = by_lang.get(ctx.lang) or by_lang["en"]
    return template.format(**values)
