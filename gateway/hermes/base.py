"""The base of every Hermes JSON message: camelCase fields as on the wire, unknown fields ignored.

Rhasspy services and satellites add fields of their own (and newer versions add more); a message
must not be refused for them, so models ignore extras instead of forbidding them.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

# Ids that end up inside MQTT topics must not contain separators or wildcards.
SiteId = Annotated[str, StringConstraints(pattern=r"^[^/#+\x00]{1,128}$")]
DEFAULT_SITE = "default"


class HermesMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> Self:
        """Parse a payload; raises HermesParseError with a readable reason."""
        try:
            return cls.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(payload)"
            raise HermesParseError(f"{cls.__name__}: {where}: {first['msg']}") from exc


class HermesParseError(ValueError):
    """A Hermes payload that does not fit its message model."""
