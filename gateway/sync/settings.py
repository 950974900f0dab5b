"""The `sync` settings section: where the central service is, and how the outbox drains."""

from __future__ import annotations

from typing import ClassVar

import ipaddress
from pathlib import Path

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SyncSettings(BaseModel):

    # The part this section configures (gateway/assembly.py finds the parts through Settings).
    part: ClassVar[str] = "gateway.sync.part:PART"
    # Not gateway.config.settings.Section (that module imports this one); same rule: typos are errors.
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = Field(
        None, description="base URL of the central profile service; none = keep everything queued locally"
    )
    token: SecretStr | None = Field(None, description="this site's bearer token")
    ca_file: Path | None = Field(None, description="CA bundle that signed the service's certificate (else the system's)")
    batch_max_events: int = Field(1000, ge=1, le=10_000)
    batch_max_bytes: int = Field(1_000_000, ge=1024, le=32 * 1024 * 1024, description="uncompressed JSON per batch")
    linger_s: float = Field(0.5, ge=0, le=300, description="how long a partial batch may wait for more events")
    gzip_level: int = Field(1, ge=0, le=9, description="0 sends uncompressed")
    request_timeout_s: float = Field(15.0, gt=0, le=600)
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    retry_after_max_s: float = Field(900.0, gt=0, description="a longer Retry-After from the service is capped here")
    outbox_max_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="byte budget; the oldest are dropped past it")
    outbox_ttl_s: float = Field(7 * 24 * 3600, gt=0, description="queued events older than this are dropped")
    limits_interval_s: float = Field(5.0, gt=0, description="how often the budget and TTL are enforced")
    poll_interval_s: float = Field(30.0, gt=0, description="changes feed polling period")
    changes_page: int = Field(500, ge=1, le=10_000)

    @field_validator("url")
    @classmethod
    def _no_plaintext_off_host(cls, url: AnyHttpUrl | None) -> AnyHttpUrl | None:
        # Personal data never crosses a network in clear text: plain http only to this machine.
        if url is not None and url.scheme == "http" and not is_loopback(url.host):
            raise ValueError("plain http is allowed only to a loopback address; use https (with ca_file if needed)")
        return url

    @model_validator(mode="after")
    def _token_with_url(self) -> SyncSettings:
        if self.url is not None and self.token is None:
            raise ValueError("sync.url needs sync.token (the site's bearer token)")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self
