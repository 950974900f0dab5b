"""The HTTP API's bodies: what it answers and accepts. The OpenAPI document describes the same."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class Problem(ApiModel):
    """Every error body: a short machine-readable code and a sentence for a person."""

    error: str
    detail: str


class Health(ApiModel):
    status: str


class Readiness(ApiModel):
    ready: bool
    broker_connected: bool
    store_writable: bool
    started: bool
    detail: str = ""


class BrokerStatus(ApiModel):
    connected: bool | None = Field(description="None when unknown (status read from the database alone)")
    host: str
    port: int


class CentralStatus(ApiModel):
    configured: bool | None = Field(description="sync.url is set; null when unknown (database-only view)")
    state: str | None = Field(description="the outbox sender's state: idle, lingering, sending, backoff, refused")
    last_success_at: float | None
    last_error: str
    counts: dict[str, int] = Field(description="the sync part's persistent counters: sent, rejected, dropped_ttl, …")


class EventStats(ApiModel):
    per_minute: int
    total: int
    last_at: float | None


class OutboxStats(ApiModel):
    depth: int
    bytes: int
    oldest_age_s: float | None


class DeadLetterStats(ApiModel):
    total: int
    last_hour: int
    by_reason: dict[str, int]


class Device(ApiModel):
    site: str
    device: str
    profile: str
    last_seen: float
    messages: int


class DeadLetterItem(ApiModel):
    id: int
    received_at: float
    topic: str
    reason: str
    detail: str
    raw_size: int
    raw_text: str = Field(description="the kept bytes as UTF-8, undecodable bytes replaced")
    raw_base64: str


class VoiceTurn(ApiModel):
    at: float
    site: str
    text: str
    intent: str | None
    latency_s: float
    rtf: float | None


class RuleFiring(ApiModel):
    at: float
    rule: str
    event_id: str | None
    detail: str


class StatusReport(ApiModel):
    site: str
    version: str
    generated_at: float
    source: str = Field(description='"gateway" (live) or "database" (read from the file alone)')
    started_at: float | None
    ready: bool | None
    broker: BrokerStatus
    central: CentralStatus
    events: EventStats
    outbox: OutboxStats
    dead_letters: DeadLetterStats
    devices_seen: int
    devices: list[Device]
    recent_voice_turns: list[VoiceTurn]
    recent_rule_firings: list[RuleFiring]
    recent_dead_letters: list[DeadLetterItem]
    rules_loaded: int | None


class DeviceList(ApiModel):
    items: list[Device]


class DeadLetterPage(ApiModel):
    items: list[DeadLetterItem]
    next_before: int | None = Field(description="pass as `before` for the next (older) page; null on the last")


class Consent(ApiModel):
    customer_id: str
    purpose: str
    status: str
    changed_at: float
    source: str
    expires_at: float | None


class ConsentPage(ApiModel):
    items: list[Consent]
    total: int
    limit: int
    offset: int


class RuleInfo(ApiModel):
    id: str
    description: str
    enabled: bool
    purpose: str | None = Field(description="the consent purpose a personal rule needs; null for anonymous rules")
    priority: int
    group: str | None
    source: str = Field(description="the rule file it came from")
    trigger: dict[str, Any]


class RuleList(ApiModel):
    items: list[RuleInfo]
    source: str = ""


class RuleReload(ApiModel):
    reloaded: bool
    count: int
    problems: list[str] = []


class CustomerExport(ApiModel):
    customer_id: str
    exported_at: float
    data: dict[str, Any]


class ErasureReport(ApiModel):
    customer_id: str
    erased_at: float
    deleted: dict[str, int] = Field(description="rows removed, per table")
    upstream_queued: bool = Field(description="the erasure is queued for the central service")
    erasure_id: int | None = None
    pseudonym: str | None = Field(None, description="the keyed hash the audit log knows this customer by")
