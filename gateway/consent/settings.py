"""The `privacy` section of the settings: purposes and their policy, retention, audit cadence.

Kept in the consent part's own module; `gateway/config/settings.py` only adds the field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import ClassVar, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, StringConstraints, model_validator

Purpose = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _parse_duration(value: object) -> object:
    """Accept seconds as a number, or text such as "90d", "12h", "30m", "45s", "2w"."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration (a number of seconds, or e.g. 90d, 12h, 30m)")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(_parse_duration), Field(gt=0)]


class _Section(BaseModel):
    # Same contract as gateway.config.settings.Section (unknown keys are errors). Not imported from
    # there because that module imports this one to compose Settings.
    model_config = ConfigDict(extra="forbid")


class Unconsented(StrEnum):
    """What happens locally to a personal event whose customer has no consent for its purpose."""

    DROP = "drop"
    KEEP_STRIPPED = "keep_stripped"


class PurposePolicy(_Section):
    unconsented: Unconsented = Field(
        Unconsented.KEEP_STRIPPED, description="drop the event, or keep it locally without the customer id"
    )
    sends_sensitive: bool = Field(
        False, description="whether a consent for this purpose covers sending sensitive attributes (transcripts)"
    )


DEFAULT_PURPOSES = ["service", "personalisation", "analytics", "marketing"]


class RetentionSettings(_Section):
    """Time-to-live per table; a table left out (null) keeps its rows until erased."""

    events: Seconds | None = 90 * 86400.0
    # Strangers' devices seen through the day's anonymous id (purpose on_site): about a day.
    on_site_events: Seconds | None = 86400.0
    dead_letters: Seconds | None = 30 * 86400.0
    profiles: Seconds | None = 365 * 86400.0
    outbox: Seconds | None = None


class PrivacySettings(_Section):

    # The part this section configures (gateway/assembly.py finds the parts through Settings).
    part: ClassVar[str] = "gateway.consent.part:PART"
    # A list, not a mapping: settings merge mappings with their defaults, and a configured list
    # of purposes must be able to drop one.
    purposes: list[Purpose] = Field(default_factory=lambda: list(DEFAULT_PURPOSES), min_length=1)
    policies: dict[Purpose, PurposePolicy] = Field(
        default_factory=lambda: {"marketing": PurposePolicy(unconsented=Unconsented.DROP)},
        description="per purpose; a purpose without an entry keeps unconsented events stripped",
    )
    sensitive_attributes: list[str] = Field(
        default_factory=lambda: ["transcript"],
        description="event attributes that leave only with a consent whose purpose sends_sensitive, and are "
        "removed from events kept locally without consent",
    )
    pseudonym_key: SecretStr | None = Field(
        None, min_length=16, description="key of the keyed hash used in logs and the audit log; generated and kept in the store if unset"
    )
    touchpoint_sites: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]] | None = Field(
        None,
        description="the sites whose touchpoints may publish consents and erasures (touchgate/<site>/consent, /erasure); "
        "a message from any other site is dead-lettered (unknown_site) and audited. null: any site for consents (the "
        "broker's ACLs then decide who may publish where; `touchgate check` warns); erasures are taken only from "
        "the gateway's own site_id and the sites listed here",
    )
    identify_window_s: Seconds = Field(
        900, description="how long after a customer was last seen a touchpoint may record a consent for them"
    )
    audit_interval_s: Seconds = Field(60, description="how often gate decision counts are written to the audit log")
    expiry_check_s: Seconds = Field(30, description="longest wait between checks for consents that expired")
    refresh_check_s: Seconds = Field(1, description="how often to look for changes written by other processes (CLI)")
    retention_interval_s: Seconds = Field(3600, description="how often the retention task runs")
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="after")
    def _policies_name_known_purposes(self) -> PrivacySettings:
        unknown = sorted(set(self.policies) - set(self.purposes))
        if unknown:
            raise ValueError(f"policies for purposes not in the purposes list: {unknown}")
        if len(set(self.purposes)) != len(self.purposes):
            raise ValueError("a purpose is listed twice")
        return self

    def policy(self, purpose: str) -> PurposePolicy:
        """The policy of a purpose; an event whose purpose is not configured gets the strictest."""
        if purpose not in self.purposes:
            return _STRICTEST
        return self.policies.get(purpose) or _DEFAULT_POLICY


_DEFAULT_POLICY = PurposePolicy()
_STRICTEST = PurposePolicy(unconsented=Unconsented.DROP)
