"""The `voice` section of the settings. Kept here; `gateway/config/settings.py` only adds the field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointSettings(_Section):
    """When an utterance is over: voice activity by energy, then trailing silence."""

    silence_ms: int = Field(500, ge=100, le=3000, description="trailing silence that ends an utterance")
    speculate_ms: int | None = Field(
        300, ge=100, le=3000,
        description="start recognising after this much trailing silence, before the endpoint, so the answer is "
        "ready when the endpoint comes (discarded if speech resumes); null: recognise at the endpoint",
    )
    min_speech_ms: int = Field(150, ge=20, le=2000, description="speech shorter than this is a click, not a word")
    max_utterance_s: float = Field(10.0, gt=0.5, le=60, description="longer speech is cut off with an error")
    no_speech_timeout_s: float = Field(6.0, gt=0.5, le=60, description="listening this long without speech ends the turn")
    threshold_db: float = Field(12.0, ge=3, le=40, description="speech is this much louder than the noise floor")
    min_level_dbfs: float = Field(-55.0, ge=-90, le=-10, description="nothing quieter than this counts as speech")


class PocketSphinxSettings(_Section):
    # Slightly wider than the library's defaults (1e-48, 7e-29): measured on the committed
    # utterances, all in-grammar sentences right at a real-time factor near 0.04; much wider beams
    # cost time and let off-grammar speech fit sentences more often.
    beam: float = 1e-52
    wbeam: float = 1e-33
    pbeam: float = 1e-52
    # The grammar search always finds *some* path; a sentence whose posterior probability is this
    # low was forced onto speech that is not in the grammar (measured: right answers ≥ 0.016,
    # off-grammar sentences that slipped through ≤ 0.006 on the committed utterances).
    min_posterior: float = Field(0.01, ge=0, le=1)
    # A second check against a free phone loop: how much worse (log score per frame, ×1000) the
    # grammar's best sentence fits than any sequence of phones. Measured: in-grammar ≤ 2.44,
    # off-grammar sentences forced into the grammar ≥ 2.9. None turns the check off.
    max_phone_gap: float | None = Field(2.7, gt=0)


class DebugCapture(_Section):
    """Opt-in: keep the last utterances as WAV files for tuning. Off by default; size-capped."""

    enabled: bool = False
    directory: Path = Path("voice-capture")
    max_bytes: int = Field(20 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024)


class VoiceSettings(_Section):
    enabled: bool = True
    engine: Literal["auto", "pocketsphinx", "vosk"] = Field(
        "auto", description="auto: Vosk when vosk_model_dir is set, else PocketSphinx (English model in its wheel)"
    )
    vosk_model_dir: Path | None = None
    language: str = Field("en", pattern=r"^[a-z]{2}$", description="sentences of this language are recognised")
    skills: list[str] = Field(
        default_factory=lambda: [
            "skills.store_info",
            "skills.offers",
            "skills.loyalty",
            "skills.staff",
            "skills.privacy",
            "skills.help",
        ],
        description="skill modules (each has a SKILL)",
    )
    catalogue: Path = PROJECT_ROOT / "skills" / "data" / "catalogue.yaml"
    store_info: Path = PROJECT_ROOT / "skills" / "data" / "store.yaml"
    endpoint: EndpointSettings = EndpointSettings()
    pocketsphinx: PocketSphinxSettings = PocketSphinxSettings()
    session_timeout_s: float = Field(30.0, gt=1, le=600, description="a session with no answer ends this long after it started")
    identity_ttl_s: float = Field(120.0, gt=0, le=3600, description="an identify (card tap) binds the site's voice sessions this long")
    dictation_fallback: bool | None = Field(
        None,
        description="decode an utterance outside the grammar again with open dictation, for textCaptured; "
        "default (null): on for Vosk, off for PocketSphinx, whose dictation model costs ~100 MB and "
        "runs at a real-time factor of 0.2-0.5",
    )
    min_confidence: float = Field(0.0, ge=0, le=1, description="intents below this confidence are not recognised")
    max_frame_bytes: int = Field(64 * 1024, ge=1024, description="larger audio frames are refused")
    staff_topic: str = "touchgate/{site}/staff"
    debug_capture: DebugCapture = DebugCapture()

    @model_validator(mode="after")
    def _vosk_needs_model(self) -> VoiceSettings:
        if self.engine == "vosk" and self.vosk_model_dir is None:
            raise ValueError("engine vosk needs vosk_model_dir")
        return self

    @property
    def dictation(self) -> bool:
        if self.dictation_fallback is not None:
            return self.dictation_fallback
        return self.engine_name == "vosk"

    @property
    def engine_name(self) -> Literal["pocketsphinx", "vosk"]:
        if self.engine == "auto":
            return "vosk" if self.vosk_model_dir is not None else "pocketsphinx"
        return self.engine
