"""Hermes speech-recognition messages (`hermes/asr/*`)."""

from __future__ import annotations

from pydantic import Field

from gateway.hermes import topics
from gateway.hermes.base import DEFAULT_SITE, HermesMessage, SiteId, TopicTemplate


class AsrStartListening(HermesMessage):
    """Start collecting audio of `siteId` for `sessionId` (sent by a dialogue manager)."""

    TOPIC = TopicTemplate(topics.ASR_START_LISTENING)

    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
    lang: str | None = None
    stopOnSilence: bool = True
    sendAudioCaptured: bool = False  # accepted for compatibility; audio never leaves the gateway
    wakewordId: str | None = None
    intentFilter: list[str] | None = None


class AsrStopListening(HermesMessage):
    """Stop collecting audio now and recognise what was heard."""

    TOPIC = TopicTemplate(topics.ASR_STOP_LISTENING)

    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None


class AsrToken(HermesMessage):
    value: str
    confidence: float = Field(1.0, ge=0, le=1)
    rangeStart: int
    rangeEnd: int


class AsrTextCaptured(HermesMessage):
    TOPIC = TopicTemplate(topics.ASR_TEXT_CAPTURED)

    """What was recognised. `likelihood` is the recogniser's confidence (0..1); `seconds` the
    length of the utterance."""

    text: str
    likelihood: float = Field(ge=0, le=1)
    seconds: float = Field(ge=0)
    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
    wakewordId: str | None = None
    asrTokens: list[list[AsrToken]] | None = None
    lang: str | None = None
