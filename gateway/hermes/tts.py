"""Hermes text-to-speech messages: `hermes/tts/say` in, `hermes/tts/sayFinished` out.

Field names are camelCase as on the wire (Rhasspy's Hermes protocol). Unknown fields are ignored:
other Hermes services add their own, and a reply must not fail because of them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from gateway.hermes.base import HermesMessage, TopicTemplate
from gateway.hermes.base import SiteId as TopicId  # site and request ids end up inside topics

TTS_SAY = "hermes/tts/say"
TTS_SAY_FINISHED = "hermes/tts/sayFinished"
# Rhasspy services report failures on hermes/error/<service>.
TTS_ERROR = "hermes/error/tts"


class TtsSay(HermesMessage):
    """Speak `text` on `siteId`. `lang` (e.g. "de" or "en-US") overrides the site's language."""

    TOPIC = TopicTemplate(TTS_SAY)

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    lang: str | None = None
    id: TopicId | None = None
    siteId: TopicId = "default"
    sessionId: str | None = None
    volume: float | None = Field(None, ge=0.0, le=1.0)


class TtsSayFinished(HermesMessage):
    """The text has been spoken (the speaker reported playFinished) or given up on."""

    TOPIC = TopicTemplate(TTS_SAY_FINISHED)

    id: str | None = None
    siteId: str = "default"
    sessionId: str | None = None


class TtsError(HermesMessage):
    """Why a say request was not (fully) spoken: synthesis failed, bad request, speaker silent."""

    TOPIC = TopicTemplate(TTS_ERROR)

    error: str
    context: str | None = None
    siteId: str = "default"
    sessionId: str | None = None


class SayOutcome(StrEnum):
    """How a say request ended, for an in-process caller (the dialogue manager)."""

    PLAYED = "played"  # the speaker reported playFinished
    TIMEOUT = "timeout"  # playBytes sent, no playFinished in time
    FAILED = "failed"  # nothing was sent: synthesis failed or the site's queue was full
