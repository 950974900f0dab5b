"""The device profile schema (inspired by EdgeX device profiles), as pydantic models.

A profile says which topics a device type publishes on, how its payload is encoded, and which
resources (values) to take from it, with their type, unit, range and scaling. See
docs/device-profiles.md for the field reference.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ValueType = Literal["bool", "int", "float", "string"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resource(Section):
    """One value taken from the payload and put in the event's attributes under `name`."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    source: str = Field(description="dotted path into the JSON payload; `.` for a plain-text payload itself")
    type: ValueType
    units: str | None = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    scale: float = 1.0
    offset: float = 0.0
    map: dict[str, bool | int | float | str] | None = Field(
        None, description="maps raw values (as text) to values, e.g. Shelly's 'open'/'close' to true/false"
    )

    @model_validator(mode="after")
    def _range_is_ordered(self) -> Resource:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is greater than maximum")
        return self


class TimeSource(Section):
    source: str
    format: Literal["unix", "unix_ms", "iso8601"] = "iso8601"


class DeviceProfile(Section):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    manufacturer: str
    model: str
    description: str = ""
    topic: str = Field(description="topic filter; {site} and {device} name wildcards, which may carry a literal prefix/suffix")
    format: Literal["json", "text"] = "json"
    when_present: list[str] = Field(
        default_factory=list,
        description="payload keys that must exist for this profile to claim a message (several device types share a topic)",
    )
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]*$", max_length=64)]
    purpose: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    customer: str | None = Field(None, description="dotted path of the pseudonymous customer id (identify events)")
    customer_prefix: str = Field("", description="namespace put before the raw id, e.g. 'card:'")
    device_identifier: str | None = Field(
        None,
        description="dotted path of the device's own hardware id (a BLE MAC), which its {device} topic name carries too:"
        " replaced by the day's anonymous id unless the device is one of the shop's own (ingest.own_beacons)",
    )
    device_time: TimeSource | None = None
    resources: list[Resource] = Field(min_length=1)

    @model_validator(mode="after")
    def _text_payload_has_one_resource(self) -> DeviceProfile:
        if self.format == "text" and any(r.source != "." for r in self.resources):
            raise ValueError("a text payload has one value: every resource's source must be '.'")
        if self.device_identifier is not None and self.customer is not None:
            raise ValueError("a profile carries a customer id or a device id, not both")
        names = [r.name for r in self.resources]
        if len(names) != len(set(names)):
            raise ValueError("resource names must be unique")
        return self
