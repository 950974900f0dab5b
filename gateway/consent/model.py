"""Consent records, changes and the MQTT payloads that carry them. Pure: no I/O."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.consent.settings import Purpose

CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=False)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"
    # Set by the gateway itself when a granted consent's expiry has passed and was enforced.
    EXPIRED = "expired"


class ConsentSource(StrEnum):
    CENTRAL = "central"  # pulled from the central profile service
    TOUCHPOINT = "touchpoint"  # consent button, card terminal, voice skill
    OPERATOR = "operator"  # shop staff through the CLI or the admin API
    GATEWAY = "gateway"  # the gateway's own enforcement (expiry)


class ConsentRecord(BaseModel):
    """The current consent of one customer for one purpose (one row of the consents table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: CustomerId
    purpose: Purpose
    status: ConsentStatus
    changed_at: float
    source: ConsentSource
    expires_at: float | None = None

    def allows(self, at: float) -> bool:
        return self.status is ConsentStatus.GRANTED and (self.expires_at is None or at < self.expires_at)


class ConsentChange(BaseModel):
    """A change as the sync helper receives it from the central service (or a touchpoint sends it).

    `changed_at` is when the customer decided; a change older than the record already held is
    stale and ignored (last decision wins, whatever order the changes arrive in).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: CustomerId
    purpose: Purpose
    status: ConsentStatus
    changed_at: float
    expires_at: float | None = None

    def record(self, source: ConsentSource) -> ConsentRecord:
        return ConsentRecord(source=source, **self.model_dump())


class ConsentMessage(BaseModel):
    """Payload on `touchgate/<site>/consent`: a touchpoint (consent button, card terminal) reports
    a customer's decision for one or more purposes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: CustomerId
    purposes: list[Purpose] = Field(min_length=1, max_length=16)
    status: Literal[ConsentStatus.GRANTED, ConsentStatus.DENIED, ConsentStatus.REVOKED]
    # Finite only: NaN/Infinity parse as floats and a NaN time reached SQLite as NULL.
    at: float | None = Field(None, allow_inf_nan=False, description="when the customer decided (Unix seconds); default: on arrival")
    expires_at: float | None = Field(None, allow_inf_nan=False)
    device: Name | None = None


class ErasureMessage(BaseModel):
    """Payload on `touchgate/<site>/erasure`: "forget me" from a touchpoint or the voice skill."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: CustomerId
    at: float | None = Field(None, allow_inf_nan=False)
    device: Name | None = None


class ErasureResult(BaseModel):
    """What an erasure removed, per table; `erasure_id` identifies the record queued upstream."""

    model_config = ConfigDict(frozen=True)

    erasure_id: int
    pseudonym: str
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


class CustomerExport(BaseModel):
    """Everything stored locally about one customer (GDPR art. 15), as written by `touchgate export`."""

    customer_id: CustomerId
    exported_at: float
    pseudonym: str
    tables: dict[str, list[dict[str, Any]]]
    audit: list[dict[str, Any]]
