"""Hermes natural-language-understanding messages (`hermes/nlu/*`)."""

from __future__ import annotations

from gateway.hermes import topics
from gateway.hermes.base import DEFAULT_SITE, HermesMessage, SiteId, TopicTemplate


class NluQuery(HermesMessage):
    """Recognise the intent of `input` (text)."""

    TOPIC = TopicTemplate(topics.NLU_QUERY)

    input: str
    intentFilter: list[str] | None = None
    id: str | None = None
    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
    wakewordId: str | None = None
    lang: str | None = None
    asrConfidence: float | None = None


class NluIntentNotRecognized(HermesMessage):
    """`input` matched no intent (or no allowed one)."""

    TOPIC = TopicTemplate(topics.NLU_INTENT_NOT_RECOGNIZED)

    input: str
    id: str | None = None
    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
    customData: str | None = None
