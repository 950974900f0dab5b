"""Settings of the reference profile service: `PROFILE_SERVICE_*` environment and command line."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PostgresDsn, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILE_SERVICE_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8780, ge=0, le=65535, description="0 picks a free port (printed at start)")
    db_path: Path = Path("profile_service.db")
    database_url: PostgresDsn | None = Field(
        None, description="postgresql://user:password@host:port/db: PostgreSQL instead of the SQLite db_path"
    )
    reuse_port: bool = Field(False, description="SO_REUSEPORT: several workers listen on one port (PostgreSQL)")
    pool_max_size: int = Field(10, ge=1, le=200, description="PostgreSQL connections per worker")
    event_retention_days: int | None = Field(
        None, ge=1, description="PostgreSQL: day partitions of events older than this are dropped; none = keep"
    )
    maintenance_interval_s: float = Field(3600.0, gt=0, description="PostgreSQL: partitions made ahead, old ones dropped")
    site_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="bearer token of each site (gateway), by site id"
    )
    admin_token: SecretStr | None = Field(None, description="token for /v1/admin/* (seeding, changes); none = disabled")
    privacy_officer_token: SecretStr | None = Field(
        None,
        description="the privacy officer's token: erases any customer (POST /v1/erasures) and reviews the erasures "
        "held because the asking site never saw the customer (GET /v1/privacy/held-erasures); none = disabled",
    )
    seed_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    known_customers_only: bool = Field(False, description="reject events of customers the service does not know")
    max_batch_events: int = Field(10_000, ge=1, description="larger batches are refused with 413")
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="largest request body, after decompression")
    max_concurrent_batches: int = Field(
        8, ge=1, le=1000, description="event batches one worker works on at once; more are told 503 + Retry-After"
    )
    changes_page_max: int = Field(1000, ge=1, le=100_000)

    @model_validator(mode="after")
    def _distinct_site_tokens(self) -> ServiceSettings:
        tokens = [t.get_secret_value() for t in self.site_tokens.values()]
        if len(set(tokens)) != len(tokens):
            raise ValueError("site_tokens: each site needs a token of its own")
        return self

    @model_validator(mode="after")
    def _officer_apart(self) -> ServiceSettings:
        if "privacy-officer" in self.site_tokens:  # profile_service.authority.OFFICER: the officer's erasures
            raise ValueError("site_tokens: 'privacy-officer' is reserved for the privacy officer's erasures")
        officer = self.privacy_officer_token.get_secret_value() if self.privacy_officer_token else None
        others = [t.get_secret_value() for t in self.site_tokens.values()]
        if self.admin_token is not None:
            others.append(self.admin_token.get_secret_value())
        if officer is not None and officer in others:
            raise ValueError("privacy_officer_token: a token of its own, not a site's or the admin's")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self
