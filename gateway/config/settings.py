"""All settings, from one YAML file plus `TOUCHGATE_*` environment overrides (pydantic-settings).

Each part of the gateway owns its section model; this module only composes them. Environment
variables win over the file, so a systemd drop-in can change one value without editing YAML:
`TOUCHGATE_MQTT__PORT=1884` sets `mqtt.port`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.config.problems import ConfigError, ConfigProblem, problems_from_validation
from gateway.config.yamlpos import PositionedYaml, YamlLoadError, load_yaml_file
from gateway.devices.identifiers import OwnBeacon
from gateway.analytics.settings import AnalyticsSettings
from gateway.tts.settings import TtsSettings
from gateway.rules.settings import RulesSettings
from gateway.sync.settings import SyncSettings
from gateway.consent.settings import PrivacySettings
from gateway.api.settings import ApiSettings
from gateway.voice.settings import VoiceSettings
from gateway.wyoming.settings import WyomingSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Section(BaseModel):
    """Base for a settings section: unknown keys are errors, so typos are caught at start."""

    model_config = ConfigDict(extra="forbid")


class MqttSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "touchgate"
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = Field(None, description="CA bundle that signed the broker's certificate")
    cert_file: Path | None = Field(None, description="client certificate, for brokers that require one")
    key_file: Path | None = None
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT version; 3.1.1 for brokers without MQTT 5 (e.g. the demo's embedded amqtt)")
    keepalive_s: int = Field(30, ge=5, le=3600)
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0, description="how long the broker keeps our queued QoS 1 messages while we are away")
    receive_maximum: int = Field(1000, ge=1, le=65535, description="unacknowledged QoS 1 messages the broker may send us at once")
    reconnect_min_s: float = Field(0.2, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)

    def start_problems(self) -> list[tuple[str, str]]:
        """(field, message) for each reason the client must not start (MqttClient refuses the same)."""
        if self.tls and self.ca_file is None:
            return [("mqtt.ca_file", "mqtt.tls needs mqtt.ca_file: the broker's certificate must be verified")]
        if not self.tls and (self.ca_file is not None or self.cert_file is not None):
            field = "mqtt.ca_file" if self.ca_file is not None else "mqtt.cert_file"
            return [(field, "mqtt.ca_file/cert_file are set but mqtt.tls is false: refusing plaintext")]
        return []


class StoreSettings(Section):
    path: Path = Path("touchgate.db")
    batch_max: int = Field(1000, ge=1, le=100_000, description="events per transaction at most (group commit)")
    dead_letter_raw_cap: int = Field(4096, ge=0, le=1_048_576, description="bytes of a rejected payload kept")


class IngestSettings(Section):
    max_payload_bytes: int = Field(256 * 1024, ge=64, description="larger payloads are dead-lettered unread")
    # A device clock outside these years is broken (no NTP yet, a flat RTC battery): its message is
    # dead-lettered `bad_time` rather than stored with a time that would corrupt windows and sync.
    device_time_min_year: int = Field(2000, ge=1970, le=9998, description="earliest plausible device time (year)")
    device_time_max_year: int = Field(2100, ge=1971, le=9999, description="latest plausible device time (year)")
    # Every other advertiser (customers' phones and watches) is anonymised where it arrives
    # (gateway/devices/identifiers.py): its MAC is never stored, logged or synced.
    own_beacons: list[OwnBeacon] = Field(
        default_factory=list,
        description="the shop's own BLE beacons, each by mac, or by uuid with major and minor: the only devices kept by their MAC",
    )

    @model_validator(mode="after")
    def _time_window_is_ordered(self) -> IngestSettings:
        if self.device_time_min_year >= self.device_time_max_year:
            raise ValueError("device_time_min_year must be before device_time_max_year")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOUCHGATE_", env_nested_delimiter="__", extra="forbid", nested_model_default_partial_update=True
    )

    site_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "default"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    device_profiles_dir: Path = PROJECT_ROOT / "device_profiles"
    mqtt: MqttSettings = MqttSettings()
    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    tts: TtsSettings = TtsSettings()
    sync: SyncSettings = SyncSettings()
    privacy: PrivacySettings = PrivacySettings()
    api: ApiSettings = ApiSettings()
    rules: RulesSettings = RulesSettings()
    voice: VoiceSettings = VoiceSettings()
    wyoming: WyomingSettings = WyomingSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()

    @model_validator(mode="after")
    def _sections_agree(self) -> Settings:
        """Rules across fields, as validation errors at the field they name (so the file's line
        is reported like any other: gateway/config/problems.py)."""
        errors = [
            InitErrorDetails(type=PydanticCustomError("cross_field", message), loc=tuple(field.split(".")), input=None)
            for field, message in self.mqtt.start_problems()
        ]
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (passed in as init values).
        return (env_settings, init_settings)


def load_settings(config_file: Path | None) -> Settings:
    """Build settings from the file (if any) and the environment, or raise ConfigError listing
    every problem with its file, line and field. Relative paths in the file are taken relative to
    the file's folder, so a config works wherever the process is started from."""
    doc: PositionedYaml | None = None
    values: dict[str, object] = {}
    if config_file is not None:
        try:
            doc = load_yaml_file(config_file)
        except YamlLoadError as exc:
            raise ConfigError([ConfigProblem(file=exc.file, line=exc.line, message=exc.message)]) from exc
        if doc.data is None:
            doc.data = {}
        if not isinstance(doc.data, dict):
            raise ConfigError([ConfigProblem(file=str(config_file), line=1, message="the top level must be a mapping")])
        values = doc.data
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, doc, config_file or "<environment>")) from exc
    if config_file is not None:
        settings = _resolve_paths(settings, config_file.parent, values)
    return settings


def _resolve_paths(settings: Settings, base: Path, values: dict[str, object]) -> Settings:
    """Anchor relative paths written in the file at the file's folder."""
    anchored = _anchor(settings, base, values)
    assert isinstance(anchored, Settings)
    return anchored


def _anchor(node: object, base: Path, values: object) -> object:
    """Every `Path` value that the file itself set (found in `values`) and that is relative is
    joined to `base`; recurses through nested sections and mappings of sections. Defaults and
    environment overrides are left as they are (relative to the working directory)."""
    if isinstance(node, BaseModel) and isinstance(values, dict):
        updates = {}
        for name in type(node).model_fields:
            if name not in values:
                continue
            current = getattr(node, name)
            fixed = _anchor(current, base, values[name])
            if fixed is not current:
                updates[name] = fixed
        return node.model_copy(update=updates) if updates else node
    if isinstance(node, dict) and isinstance(values, dict):
        changed = {key: _anchor(item, base, values.get(key)) for key, item in node.items()}
        return changed if any(changed[k] is not node[k] for k in node) else node
    if isinstance(node, Path) and not node.is_absolute():
        return base / node
    return node
