"""The sync API's bodies as the reference service reads and writes them (see openapi.yaml).

The gateway has its own copy of the shapes it needs (`gateway/sync/wire.py`): the two programs
share a contract (the OpenAPI document), never code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

AttributeValue = bool | int | float | str | None
EventId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Purpose = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Strict(BaseModel):
    # Finite numbers only: a number too large for a float (1e400) would be stored as Infinity.
    # (NaN and Infinity literals are not JSON at all: the API refuses such bodies before parsing.)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class EventIn(Strict):
    """One event as a gateway sends it (the gateway's outbox body)."""

    id: EventId
    # Finite and within timestamps databases hold: the time partitions events (PostgreSQL).
    received_at: Annotated[float, Field(ge=0, lt=1e11, allow_inf_nan=False)]
    device_time: float | None = None
    site: Name
    device: Name
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]*$", max_length=64)]
    purpose: Purpose
    customer_id: CustomerId | None = None
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class BatchEnvelope(Strict):
    """The outer shape only: each event is validated on its own, so one bad event is rejected
    with its reason while the others in the batch are accepted."""

    events: list[dict[str, Any]]


class ValidBatch(Strict):
    """A batch whose events are all valid (the usual case, read in one pass)."""

    events: list[EventIn]


class Rejection(Strict):
    id: str
    reason: str


class BatchResult(Strict):
    accepted: list[str]
    rejected: list[Rejection]


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


class ConsentIn(Strict):
    purpose: Purpose
    status: ConsentStatus
    changed_at: float
    source: Name = "central"
    expires_at: float | None = None


class SeedCustomer(Strict):
    customer_id: CustomerId
    profile: dict[str, AttributeValue] = Field(default_factory=dict)
    consents: list[ConsentIn] = Field(default_factory=list)


class Seed(Strict):
    """The seed file (and the body of POST /v1/admin/seed): customers with profile and consents."""

    customers: list[SeedCustomer] = Field(default_factory=list)


class ProfileChange(Strict):
    seq: int
    type: Literal["profile"] = "profile"
    customer_id: str
    attributes: dict[str, AttributeValue]
    changed_at: float


class ConsentChange(Strict):
    seq: int
    type: Literal["consent"] = "consent"
    customer_id: str
    purpose: str
    status: ConsentStatus
    changed_at: float
    source: str
    expires_at: float | None = None


class ErasureChange(Strict):
    seq: int
    type: Literal["erasure"] = "erasure"
    customer_id: str
    changed_at: float
    origin_site: str = Field(description="the site that asked for it (it has erased its own rows already)")


Change = Annotated[ProfileChange | ConsentChange | ErasureChange, Field(discriminator="type")]


class ChangesPage(Strict):
    changes: list[Change]
    cursor: str
    more: bool


class ErasureIn(Strict):
    id: EventId
    customer_id: CustomerId
    requested_at: float


class ErasureBatch(Strict):
    erasures: list[ErasureIn]


class ErasureResult(Strict):
    accepted: list[str] = Field(description="ids the service has taken charge of (applied, or held for review)")
    held: list[str] = Field(
        default_factory=list,
        description="of those, the ids held for the privacy officer: the site never sent an event of that customer",
    )


class HeldErasure(Strict):
    """An erasure a site asked for but may not apply on its own (see docs/privacy.md)."""

    site: str
    id: str
    customer_id: str
    requested_at: float
    received_at: float


class HeldErasures(Strict):
    held: list[HeldErasure]


class Problem(Strict):
    """Error body of every non-2xx answer."""

    error: str
    detail: str = ""
