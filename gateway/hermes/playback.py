"""Hermes audio-server playback: `playBytes` (a WAV file) to a site, `playFinished` back from it.

`hermes/audioServer/<siteId>/playBytes/<requestId>` carries the raw WAV bytes (no JSON);
`hermes/audioServer/<siteId>/playFinished` carries `{"id": requestId, "siteId", "sessionId"}`.
"""

from __future__ import annotations

from gateway.hermes.base import HermesMessage, TopicTemplate

PLAY_BYTES = TopicTemplate("hermes/audioServer/{siteId}/playBytes/{requestId}")
PLAY_BYTES_SUBSCRIPTION = PLAY_BYTES.subscription


class AudioPlayFinished(HermesMessage):
    TOPIC = TopicTemplate("hermes/audioServer/{siteId}/playFinished")

    id: str | None = None
    siteId: str = "default"
    sessionId: str | None = None


PLAY_FINISHED_SUBSCRIPTION = AudioPlayFinished.subscription()


def play_bytes_topic(site_id: str, request_id: str) -> str:
    return PLAY_BYTES.format(siteId=site_id, requestId=request_id)


def play_finished_topic(site_id: str) -> str:
    return AudioPlayFinished.topic(siteId=site_id)


def parse_play_bytes_topic(topic: str) -> tuple[str, str] | None:
    """(siteId, requestId) of a playBytes topic, or None for any other topic."""
    ids = PLAY_BYTES.parse(topic)
    return None if ids is None else (ids["siteId"], ids["requestId"])


def parse_play_finished_topic(topic: str) -> str | None:
    """The siteId of a playFinished topic, or None for any other topic."""
    ids = AudioPlayFinished.topic_ids(topic)
    return None if ids is None else ids["siteId"]
