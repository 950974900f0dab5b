"""A message as it arrived from the broker, before any interpretation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class InboundMessage:
    """Raw MQTT delivery. A plain dataclass: this is the hot path and holds only trusted values
    that the MQTT adapter itself produced (the payload bytes are untrusted and validated later)."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    received_at: float
    retain: bool = False
    dup: bool = False

    def digest(self) -> bytes:
        """Identifies a redelivery of this exact message (same topic and payload)."""
        return hashlib.blake2b(self.payload, digest_size=8, person=self.topic.encode()[-16:]).digest()
