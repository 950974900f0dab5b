"""The sync API's bodies as the gateway reads them (the contract is profile_service/openapi.yaml;
the gateway never imports the reference service)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

AttributeValue = bool | int | float | str | None


class Reply(BaseModel):
    # Lenient on extra keys: a newer service may add fields without breaking older gateways.
    model_config = ConfigDict(extra="ignore")


class Rejection(Reply):
    id: str
    reason: str = Field(max_length=2000)


class BatchResult(Reply):
    accepted: list[str]
    rejected: list[Rejection] = Field(default_factory=list)


class Problem(Reply):
    error: str = ""
    detail: str = ""


class ProfileChange(Reply):
    seq: int
    type: Literal["profile"]
    customer_id: str
    attributes: dict[str, AttributeValue]
    changed_at: float


class ConsentChange(Reply):
    seq: int
    type: Literal["consent"]
    customer_id: str
    purpose: str
    status: str
    changed_at: float
    source: str = "central"
    expires_at: float | None = None


class ErasureChange(Reply):
    seq: int
    type: Literal["erasure"]
    customer_id: str
    changed_at: float
    origin_site: str = ""


Change = Annotated[ProfileChange | ConsentChange | ErasureChange, Field(discriminator="type")]


class ChangesPage(Reply):
    changes: list[Change]
    cursor: str
    more: bool = False


class ErasureOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    customer_id: str
    requested_at: float


class ErasureBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    erasures: list[ErasureOut]


class ErasureResult(Reply):
    accepted: list[str]
    # Of those, the ones the central service holds for its privacy officer (this site never sent
    # an event of the customer): in its hands, not yet applied.
    held: list[str] = Field(default_factory=list)
