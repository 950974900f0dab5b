"""The canonical event every touchpoint message is normalised into."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.model.ids import new_event_id

AttributeValue = bool | int | float | str | None
Purpose = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Event(BaseModel):
    """One normalised happening in the shop.

    `customer_id` is pseudonymous (a loyalty card or app id), never a name; an event without it is
    anonymous. `purpose` is what the event may be used for, and decides at the consent gate whether
    a personal event may leave the shop.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_event_id)
    received_at: float
    device_time: float | None = None
    site: Name
    device: Name
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]*$", max_length=64)]
    purpose: Purpose
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    profile: str = ""
    topic: str = ""
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)

    @property
    def is_personal(self) -> bool:
        return self.customer_id is not None
