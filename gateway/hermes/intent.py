"""The recognised intent, `hermes/intent/<intentName>`, with its slots."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.hermes import topics
from gateway.hermes.base import DEFAULT_SITE, HermesMessage, SiteId


class Intent(HermesMessage):
    intentName: str
    confidenceScore: float = Field(ge=0, le=1)


class SlotRange(HermesMessage):
    """Character offsets of the slot's words in `input` (start inclusive, end exclusive)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    rawStart: int | None = None
    rawEnd: int | None = None


class Slot(HermesMessage):
    entity: str
    slotName: str
    value: dict[str, Any]  # {"kind": "Unknown"|"Number", "value": ...} as Rhasspy sends it
    rawValue: str
    confidence: float = Field(1.0, ge=0, le=1)
    range: SlotRange | None = None

    @property
    def plain_value(self) -> Any:
        return self.value.get("value")


class NluIntent(HermesMessage):
    """Sent on `hermes/intent/<intentName>` (Rhasspy's `NluIntent`)."""

    TOPIC = topics.INTENT

    input: str
    intent: Intent
    slots: list[Slot] = Field(default_factory=list)
    id: str | None = None
    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
    customData: str | None = None
    asrTokens: list[Any] | None = None
    asrConfidence: float | None = None
    rawInput: str | None = None
    wakewordId: str | None = None
    lang: str | None = None

    def topic_ids_of_message(self) -> dict[str, Any]:
        return {"intentName": self.intent.intentName}

    def slot_values(self) -> dict[str, Any]:
        return {slot.slotName: slot.plain_value for slot in self.slots}
