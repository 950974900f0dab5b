"""`hermes/hotword/<wakewordId>/detected`: a satellite heard its wake word (Rhasspy satellites
detect it locally and then stream audio); the dialogue manager starts a session for it."""

from __future__ import annotations

from gateway.hermes import topics
from gateway.hermes.base import DEFAULT_SITE, HermesMessage, SiteId, TopicTemplate


class HotwordDetected(HermesMessage):
    TOPIC = topics.HOTWORD_DETECTED

    modelId: str = ""
    modelVersion: str = ""
    modelType: str = "personal"
    currentSensitivity: float = 1.0
    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
    sendAudioCaptured: bool | None = None
    lang: str | None = None


class HotwordToggle(HermesMessage):
    """`hermes/hotword/toggleOff|toggleOn` for a site: `HotwordToggleOn` or `HotwordToggleOff`."""

    siteId: SiteId = DEFAULT_SITE
    reason: str = "dialogueSession"


class HotwordToggleOn(HotwordToggle):
    TOPIC = TopicTemplate(topics.HOTWORD_TOGGLE_ON)


class HotwordToggleOff(HotwordToggle):
    TOPIC = TopicTemplate(topics.HOTWORD_TOGGLE_OFF)
