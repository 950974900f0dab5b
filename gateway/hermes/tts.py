"""Hermes text-to-speech messages: `hermes/tts/say` in, `hermes/tts/sayFinished` out.

Field names are camelCase as on the wire (Rhasspy's Hermes protocol). Unknown fields are ignored:
other Hermes services add their own, and a reply must not fail because of them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

TTS_SAY = "hermes/tts/say"
TTS_SAY_FINISHED = "hermes/tts/sayFinished"
# Rhasspy services report failures on hermes/error/<service>.
TTS_ERROR = "hermes/error/tts"

# Ids that end up inside MQTT topics (site and request ids) must not contain separators or wildcards.
TopicId = Annotated[str, StringConstraints(pattern=r"^[^/#+\x00]{1,128}$")]


class HermesMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()


class TtsSay(HermesMessage):
    """Speak `text` on `siteId`. `lang` (e.g. "de" or "en-US") overrides the site's language."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    lang: str | None = None
    id: TopicId | None = None
    siteId: TopicId = "default"
    sessionId: str | None = None
    volume: float | None = Field(None, ge=0.0, le=1.0)


class TtsSayFinished(HermesMessage):
    """The text has been spoken (the speaker reported playFinished) or given up on."""

    id: str | None = None
    siteId: str = "default"
    sessionId: str | None = None


class TtsError(HermesMessage):
    """Why a say request was not (fully) spoken: synthesis failed, bad request, speaker silent."""

    error: str
    context: str | None = None
    siteId: str = "default"
    sessionId: str | None = None


class SayOutcome(StrEnum):
    """How a say request ended, for an in-process caller (the dialogue manager)."""

    PLAYED = "played"  # the speaker reported playFinished
    TIMEOUT = "timeout"  # playBytes sent, no playFinished in time
    FAILED = "failed"  # nothing was sent: synthesis failed or the site's queue was full
