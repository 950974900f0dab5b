"""The `tts` settings section: engine and voice per language, output format per site, cache size,
how long to wait for a speaker's playFinished.

Defined here (not in gateway.config.settings) because each part owns its section; it does not
import gateway.config.settings, which imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gateway.audio import AudioFormat

Language = Literal["en", "de"]
SampleWidth = Literal[1, 2, 4]
Channels = Literal[1, 2]
SiteId = Annotated[str, StringConstraints(pattern=r"^[^/#+\x00]{1,128}$")]

# espeak-ng's voice for each language when nothing else is configured.
DEFAULT_ESPEAK_VOICES: dict[str, str] = {"en": "en-us", "de": "de"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VoiceSettings(_Section):
    """One language's voice. espeak-ng needs nothing installed beyond the Debian package; Piper
    needs a voice model (.onnx plus its .onnx.json) on disk."""

    engine: Literal["espeak-ng", "piper"] = "espeak-ng"
    espeak_voice: str | None = Field(None, description="espeak-ng voice name; default: the language's own")
    # Slower than espeak-ng's own 175 wpm: clearer over a shop's background noise.
    rate_wpm: int = Field(150, ge=80, le=450, description="espeak-ng speaking rate, words per minute")
    pitch: int = Field(50, ge=0, le=99, description="espeak-ng pitch")
    piper_model: Path | None = Field(None, description="Piper voice model (.onnx)")
    piper_config: Path | None = Field(None, description="Piper voice config; default: the model path + .json")
    piper_length_scale: float | None = Field(None, gt=0.1, le=5.0, description="Piper speaking pace (>1 slower)")
    piper_threads: int = Field(
        1, ge=1, le=16, description="onnxruntime threads for one Piper synthesis; 1 where speech recognition shares the CPU (docs/voice.md)"
    )

    @model_validator(mode="after")
    def _engine_has_what_it_needs(self) -> VoiceSettings:
        if self.engine == "piper" and self.piper_model is None:
            raise ValueError("engine 'piper' needs piper_model (path of the .onnx voice model)")
        if self.engine == "espeak-ng" and self.piper_model is not None:
            raise ValueError("piper_model is set but engine is 'espeak-ng': set engine: piper to use it")
        return self


class SiteTtsSettings(_Section):
    """The output format of one site (one speaker); unset fields take the section's values. The
    site's language is set once for every part, in `voice.sites.<siteId>.language`."""

    sample_rate: int | None = Field(None, ge=8000, le=48000)
    sample_width: SampleWidth | None = None
    channels: Channels | None = None


class TtsSettings(_Section):

    # The part this section configures (gateway/assembly.py finds the parts through Settings).
    part: ClassVar[str] = "gateway.tts.part:PART"
    enabled: bool = True
    voices: dict[Language, VoiceSettings] = Field(
        default_factory=dict, description="voice per language; unlisted languages use espeak-ng's own voice"
    )
    sample_rate: int | None = Field(None, ge=8000, le=48000, description="output rate; unset: the engine's own")
    sample_width: SampleWidth = Field(2, description="bytes per sample: 1 (unsigned 8-bit), 2 or 4 (signed)")
    channels: Channels = 1
    sites: dict[SiteId, SiteTtsSettings] = Field(default_factory=dict, description="output format per site")
    cache_entries: int = Field(64, ge=0, le=100_000, description="replies kept ready to send again (0: no cache)")
    cache_max_bytes: int = Field(32 * 1024 * 1024, ge=0, description="memory the reply cache may hold")
    prepare_replies: bool = Field(
        True, description="at start, make the skills' fixed replies and the openings of their templates ahead (docs/tts.md)"
    )
    prepared_max_bytes: int = Field(
        8 * 1024 * 1024, ge=0, description="memory the replies made ahead may hold, besides cache_max_bytes"
    )
    play_finished_timeout_s: float = Field(
        5.0, gt=0, le=600, description="wait this long beyond the reply's duration for the speaker's playFinished"
    )
    synthesis_timeout_s: float = Field(10.0, gt=0, le=120)
    max_text_chars: int = Field(1000, ge=1, le=100_000)
    max_pending_per_site: int = Field(8, ge=1, le=1000, description="say requests waiting per site, besides the one being spoken")
    max_active_sites: int = Field(
        64, ge=1, le=10_000, description="sites speaking or with replies queued at once; a say for one more is refused"
    )
    espeak_ng_path: str = "espeak-ng"

    def voice(self, language: str) -> VoiceSettings:
        configured = self.voices.get(language)  # type: ignore[call-overload]
        return configured if configured is not None else VoiceSettings()

    def output_formats(self) -> list[OutputFormat]:
        """Every output format a site gets: the section's own, and each listed site's."""
        formats = [self.output_of("")]  # a site not listed
        for site in self.sites:
            if (wanted := self.output_of(site)) not in formats:
                formats.append(wanted)
        return formats

    def output_of(self, site_id: str) -> OutputFormat:
        site = self.sites.get(site_id) or SiteTtsSettings()
        return OutputFormat(
            sample_rate=site.sample_rate if site.sample_rate is not None else self.sample_rate,
            sample_width=site.sample_width if site.sample_width is not None else self.sample_width,
            channels=site.channels if site.channels is not None else self.channels,
        )


class OutputFormat(BaseModel):
    """The format a site wants; `sample_rate` None keeps the engine's own rate."""

    model_config = ConfigDict(frozen=True)

    sample_rate: int | None
    sample_width: int
    channels: int

    def resolve(self, source: AudioFormat) -> AudioFormat:
        return AudioFormat(self.sample_rate or source.sample_rate, self.sample_width, self.channels)


def espeak_voice_name(language: str, voice: VoiceSettings) -> str:
    return voice.espeak_voice or DEFAULT_ESPEAK_VOICES.get(language, language)


def languages_spoken(settings: TtsSettings, site_languages: Iterable[str] = ()) -> list[str]:
    """English and German always; any other language a site is set to (voice.sites) too."""
    return sorted(set(DEFAULT_ESPEAK_VOICES) | set(settings.voices) | set(site_languages))
