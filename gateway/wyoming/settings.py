"""The `wyoming` section of the settings. Kept here; `gateway/config/settings.py` only adds the field."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gateway.voice.settings import SiteId

# tcp://host:port, the form wyoming-satellite's --uri and Home Assistant use.
TcpUri = Annotated[str, StringConstraints(pattern=r"^tcp://[A-Za-z0-9_.\-\[\]:]{1,253}:[0-9]{1,5}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudioOut(_Section):
    """The PCM format a satellite's speaker plays (wyoming-satellite's --snd-command-rate/-width/-channels)."""

    rate: int = Field(22050, ge=8000, le=48000)
    width: int = Field(2, ge=1, le=4)
    channels: int = Field(1, ge=1, le=2)


class SatelliteSettings(_Section):
    uri: TcpUri = Field(description="where the satellite listens, e.g. tcp://speaker:10700")
    site_id: SiteId = Field(description="the site its sessions run on (language, timeouts, identity: voice.sites)")
    speaker: AudioOut = AudioOut()


class WakeSettings(_Section):
    """The gateway's own wake-word stage, for satellites that stream all the time (start at `wake`)."""

    phrase: str = Field("hey touch gate", min_length=1, max_length=80, description="words of PocketSphinx's English dictionary")
    # How much worse than a free phone loop the phrase may fit (log score per frame ×1000), over
    # the phrase and its worst word; tuned on bench/wyoming_wake.py --tune, measured held out.
    max_gap: float = Field(1.5, gt=0, le=20, description="the phrase's fit behind a free phone loop")
    max_word_gap: float = Field(3.5, gt=0, le=20, description="its worst word's fit behind a free phone loop")
    min_frames_per_phone: float = Field(7.0, ge=0, le=30, description="a word squeezed shorter was not said")
    # Said at any speed, the phrase's words take similar time per phone; forced onto a sentence,
    # one word gets squeezed and another stretched over several.
    max_duration_ratio: float = Field(1.6, ge=1, le=10, description="the slowest word's time per phone over the fastest's")
    # Measured on bench/wyoming_wake.py --tune's voices: the phrase had no pause between its words;
    # a sentence forced onto it puts its extra words into a "pause" (50 frames for "they said it
    # was great"). 250 ms leaves room for a comma ("hey, touch gate").
    max_inner_pause_ms: int = Field(250, ge=0, le=2000, description="the longest pause between the phrase's words")
    # The phrase said by the tuning voices: its shortest phone (after the first) at 0.42-0.71 of its
    # mean phone; a sentence forced onto it squeezes one to 0.24.
    min_phone_share: float = Field(0.3, ge=0, le=1, description="the shortest phone's share of the phrase's mean phone")
    pause_ms: int = Field(400, ge=100, le=2000, description="the pause after the phrase that ends it")
    max_phrase_s: float = Field(3.0, gt=0.5, le=10, description="longer utterances are not the wake phrase")
    # Lower than a session's endpointing (12 dB): a phrase said into a noisy shop at 15 dB SNR
    # has whole words less than 12 dB above the noise, and the stage only picks candidates.
    above_noise_db: float = Field(8.0, ge=3, le=40, description="speech is this much louder than the stream's noise floor")

    @field_validator("phrase")
    @classmethod
    def _words(cls, phrase: str) -> str:
        """Plain words the recogniser can say: a phrase written in a file is checked here, so
        `touchgate check` and `run` name its file, line and field (the shipped default is
        checked by the tests; only a phrase someone wrote costs the dictionary scan)."""
        words = phrase.lower().split()
        if not words or not all(w.replace("'", "").isalpha() for w in words):
            raise ValueError("the wake phrase is one or more plain words")
        from gateway.wyoming.dictionary import unknown_words

        unknown = unknown_words(set(words))
        if unknown:
            raise ValueError(f"not in PocketSphinx's English dictionary: {', '.join(sorted(unknown))}")
        return " ".join(words)


class ServerSettings(_Section):
    """Touchgate as Home Assistant's speech-to-text, text-to-speech and conversation agent."""

    enabled: bool = False
    # Loopback by default: the protocol has no authentication or encryption (see docs/voice.md).
    host: str = Field("127.0.0.1", min_length=1, description="no authentication in the protocol: keep it on loopback or a tunnel (docs/voice.md)")
    port: int = Field(10300, ge=0, le=65535, description="0 picks a free port (tests)")
    site_id: SiteId = Field("homeassistant", description="the site whose language and identity Home Assistant's requests use")
    max_connections: int = Field(8, ge=1, le=256)


class WyomingSettings(_Section):
    """Wyoming, Home Assistant's voice protocol: a server for Home Assistant, and satellites the gateway dials."""

    part: ClassVar[str] = "gateway.wyoming.part:PART"

    enabled: bool = False
    server: ServerSettings = ServerSettings()
    satellites: list[SatelliteSettings] = Field(
        default_factory=list,
        description="satellites to dial, each {uri: tcp://host:10700, site_id, speaker: {rate, width, channels}} (docs/voice.md)",
    )
    wake: WakeSettings = WakeSettings()
    # Limits on what a peer may send: one event's header line, its JSON data, its payload.
    max_header_bytes: int = Field(64 * 1024, ge=1024, le=1024 * 1024)
    max_payload_bytes: int = Field(256 * 1024, ge=4096, le=16 * 1024 * 1024)
    max_utterance_s: float = Field(30.0, gt=1, le=300, description="Home Assistant's transcribe: longer audio is refused")
    ping_s: float = Field(5.0, gt=0.5, le=300, description="how often a satellite is pinged")
    reconnect_initial_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(30.0, gt=0, le=3600)
    played_margin_s: float = Field(3.0, gt=0, le=120, description="a reply's duration plus this for the satellite's `played`")
