"""What the gateway keeps of input it could not accept."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class DeadLetterReason(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_UTF8 = "invalid_utf8"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    MISSING_FIELD = "missing_field"
    UNKNOWN_TOPIC = "unknown_topic"
    NO_PROFILE_MATCH = "no_profile_match"
    TOO_LARGE = "too_large"
    INVALID_EVENT = "invalid_event"
    INVALID_CONSENT = "invalid_consent"
    UNKNOWN_PURPOSE = "unknown_purpose"
    UNKNOWN_CUSTOMER = "unknown_customer"
    UNKNOWN_SITE = "unknown_site"  # a consent or erasure from a site that is not a configured touchpoint
    STALE_CONSENT = "stale_consent"  # a touchpoint's decision older than the one held (last decision wins)
    SYNC_REJECTED = "sync_rejected"
    INVALID_AUDIO = "invalid_audio"
    INVALID_HERMES = "invalid_hermes"
    # The part that handles the topic raised on this input (a bug, caught at the MQTT boundary).
    HANDLER_FAILED = "handler_failed"
    # Normalising or gating this one message raised (a bug): caught per message, the batch goes on.
    INTERNAL_ERROR = "internal_error"
    # A device time outside the sane window (settings: ingest.device_time_min_year/max_year).
    BAD_TIME = "bad_time"
    # In flight at two unclean stops in a row: quarantined so the gateway comes up and stays up.
    POISON = "poison"
    # A command (consent, erasure, Hermes control) replayed by the broker as a retained message.
    RETAINED_COMMAND = "retained_command"


class DeadLetter(BaseModel):
    """Input that did not fit: why, where from, and the first bytes of it (capped)."""

    model_config = ConfigDict(frozen=True)

    received_at: float
    topic: str
    reason: DeadLetterReason
    detail: str
    raw: bytes
    raw_size: int
    # The keyed pseudonym of the customer the message named (gateway/devices/redaction.py):
    # erasure and export match it exactly. The raw payload never holds the id in clear.
    customer_pseudonym: str | None = None
    # What was done to `raw`: kept, redacted (ids replaced), unparsed (bounded, runs masked).
    raw_state: str = "kept"
