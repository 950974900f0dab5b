"""`hermes/hotword/<wakewordId>/detected`: a satellite heard its wake word (Rhasspy satellites
detect it locally and then stream audio); the dialogue manager starts a session for it."""

from __future__ import annotations

from gateway.hermes.base import DEFAULT_SITE, HermesMessage, SiteId


class HotwordDetected(HermesMessage):
    modelId: str = ""
    modelVersion: str = ""
    modelType: str = "personal"
    currentSensitivity: float = 1.0
    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
    sendAudioCaptured: bool | None = None
    lang: str | None = None
