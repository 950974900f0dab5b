"""Hermes dialogue-manager messages (`hermes/dialogueManager/*`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from gateway.hermes import topics
from gateway.hermes.base import DEFAULT_SITE, HermesMessage, SiteId, TopicTemplate


class SessionInitAction(HermesMessage):
    type: Literal["action"] = "action"
    text: str | None = None
    canBeEnqueued: bool = True
    intentFilter: list[str] | None = None
    sendIntentNotRecognized: bool = False


class SessionInitNotification(HermesMessage):
    type: Literal["notification"] = "notification"
    text: str


class DialogueStartSession(HermesMessage):
    TOPIC = TopicTemplate(topics.DM_START_SESSION)

    init: SessionInitAction | SessionInitNotification = Field(default_factory=SessionInitAction, discriminator="type")
    siteId: SiteId = DEFAULT_SITE
    customData: str | None = None
    lang: str | None = None


class DialogueContinueSession(HermesMessage):
    TOPIC = TopicTemplate(topics.DM_CONTINUE_SESSION)

    sessionId: str
    text: str | None = None
    intentFilter: list[str] | None = None
    customData: str | None = None
    sendIntentNotRecognized: bool = False
    slot: str | None = None
    lang: str | None = None


class DialogueEndSession(HermesMessage):
    TOPIC = TopicTemplate(topics.DM_END_SESSION)

    sessionId: str
    text: str | None = None
    customData: str | None = None


class DialogueSessionStarted(HermesMessage):
    TOPIC = TopicTemplate(topics.DM_SESSION_STARTED)

    sessionId: str
    siteId: SiteId = DEFAULT_SITE
    customData: str | None = None
    lang: str | None = None


class DialogueSessionQueued(HermesMessage):
    """A startSession waits for its busy site (canBeEnqueued); sessionStarted follows later."""

    TOPIC = TopicTemplate(topics.DM_SESSION_QUEUED)

    sessionId: str
    siteId: SiteId = DEFAULT_SITE
    customData: str | None = None


class TerminationReason(StrEnum):
    NOMINAL = "nominal"
    ABORTED_BY_USER = "abortedByUser"
    INTENT_NOT_RECOGNIZED = "intentNotRecognized"
    TIMEOUT = "timeout"
    ERROR = "error"


class SessionTermination(HermesMessage):
    reason: TerminationReason
    error: str | None = None


class DialogueSessionEnded(HermesMessage):
    TOPIC = TopicTemplate(topics.DM_SESSION_ENDED)

    sessionId: str
    siteId: SiteId = DEFAULT_SITE
    termination: SessionTermination
    customData: str | None = None
