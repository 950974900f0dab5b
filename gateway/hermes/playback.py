"""Hermes audio-server playback: `playBytes` (a WAV file) to a site, `playFinished` back from it.

`hermes/audioServer/<siteId>/playBytes/<requestId>` carries the raw WAV bytes (no JSON);
`hermes/audioServer/<siteId>/playFinished` carries `{"id": requestId, "siteId", "sessionId"}`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

PLAY_BYTES_SUBSCRIPTION = "hermes/audioServer/+/playBytes/+"
PLAY_FINISHED_SUBSCRIPTION = "hermes/audioServer/+/playFinished"

_PREFIX = "hermes/audioServer/"
_FORBIDDEN = frozenset("/#+\x00")


class AudioPlayFinished(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = None
    siteId: str = "default"
    sessionId: str | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def _check_id(kind: str, value: str) -> str:
    if not value or len(value) > 128 or _FORBIDDEN.intersection(value):
        raise ValueError(f"{kind} {value!r} cannot be used in an MQTT topic")
    return value


def play_bytes_topic(site_id: str, request_id: str) -> str:
    return f"{_PREFIX}{_check_id('siteId', site_id)}/playBytes/{_check_id('requestId', request_id)}"


def play_finished_topic(site_id: str) -> str:
    return f"{_PREFIX}{_check_id('siteId', site_id)}/playFinished"


def parse_play_bytes_topic(topic: str) -> tuple[str, str] | None:
    """(siteId, requestId) of a playBytes topic, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 5 and topic.startswith(_PREFIX) and parts[3] == "playBytes" and parts[2] and parts[4]:
        return parts[2], parts[4]
    return None


def parse_play_finished_topic(topic: str) -> str | None:
    """The siteId of a playFinished topic, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 4 and topic.startswith(_PREFIX) and parts[3] == "playFinished" and parts[2]:
        return parts[2]
    return None
