"""Hermes audio input: `hermes/audioServer/<siteId>/audioFrame` carries a WAV chunk (binary, no
JSON); `…/<siteId>/<sessionId>/audioSessionFrame` the same for one session. Playback messages
(playBytes, playFinished) live in `gateway.hermes.playback`."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.hermes import topics


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One WAV chunk as received; the bytes are untrusted until `gateway.audio.read_frame` has read them."""

    site_id: str
    wav: bytes
    session_id: str | None = None

    def topic(self) -> str:
        if self.session_id is not None:
            return topics.audio_session_frame_topic(self.site_id, self.session_id)
        return topics.audio_frame_topic(self.site_id)

    @classmethod
    def from_message(cls, topic: str, payload: bytes) -> AudioFrame | None:
        """The frame carried on `topic`, or None if it is not an audio frame topic."""
        site = topics.parse_audio_frame_topic(topic)
        if site is not None:
            return cls(site, payload)
        pair = topics.parse_audio_session_frame_topic(topic)
        if pair is not None:
            return cls(pair[0], payload, pair[1])
        return None
