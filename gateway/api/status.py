"""The status picture, assembled from the database overview and (when running) the live gateway.
Pure: the server and `touchgate status` feed it what they read."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from gateway.api.models import (
    BrokerStatus,
    CentralStatus,
    DeadLetterItem,
    DeadLetterStats,
    Device,
    EventStats,
    OutboxStats,
    RuleFiring,
    StatusReport,
    VoiceTurn,
)
from gateway.api.services import CentralLink
from gateway.metrics import RuleFiringRecord, VoiceTurnRecord
from gateway.store.operator_rows import StoreOverview

RAW_TEXT_CAP = 2000


@dataclass(frozen=True)
class LiveView:
    """What only the running process knows."""

    broker_connected: bool
    ready: bool
    started_at: float
    central: CentralLink
    voice_turns: list[VoiceTurnRecord] = field(default_factory=list)
    rule_firings: list[RuleFiringRecord] = field(default_factory=list)
    rules_loaded: int | None = None


def gateway_version() -> str:
    try:
        return metadata.version("touchgate")
    except metadata.PackageNotFoundError:
        return "unknown"


def dead_letter_item(row: dict[str, Any]) -> DeadLetterItem:
    raw = bytes(row["raw"] or b"")
    return DeadLetterItem(
        id=row["id"],
        received_at=row["received_at"],
        topic=row["topic"],
        reason=row["reason"],
        detail=row["detail"],
        raw_size=row["raw_size"],
        raw_text=raw[:RAW_TEXT_CAP].decode("utf-8", errors="replace"),
        raw_base64=base64.b64encode(raw).decode("ascii"),
    )


def build_status(
    site: str, host: str, port: int, overview: StoreOverview, live: LiveView | None
) -> StatusReport:
    snap = overview.snapshot
    link = live.central if live is not None else None
    central = CentralStatus(
        configured=link.configured if link else None,
        state=link.state if link else None,
        last_success_at=link.last_success_at if link else None,
        last_error=link.last_error if link else "",
        counts=snap.sync_counts,
    )
    return StatusReport(
        site=site,
        version=gateway_version(),
        generated_at=time.time(),
        source="gateway" if live is not None else "database",
        started_at=live.started_at if live else None,
        ready=live.ready if live else None,
        broker=BrokerStatus(connected=live.broker_connected if live else None, host=host, port=port),
        central=central,
        events=EventStats(per_minute=snap.events_last_minute, total=overview.events_total, last_at=overview.last_event_at),
        outbox=OutboxStats(depth=snap.outbox_depth, bytes=snap.outbox_bytes, oldest_age_s=snap.outbox_oldest_age_s),
        dead_letters=DeadLetterStats(
            total=overview.dead_letters_total,
            last_hour=overview.dead_letters_last_hour,
            by_reason=overview.dead_letters_by_reason,
        ),
        devices_seen=overview.devices_seen,
        devices=[Device.model_validate(d) for d in overview.devices],
        recent_voice_turns=[VoiceTurn.model_validate(t) for t in (live.voice_turns if live else [])],
        recent_rule_firings=[RuleFiring.model_validate(f) for f in (live.rule_firings if live else [])],
        recent_dead_letters=[dead_letter_item(r) for r in overview.recent_dead_letters],
        rules_loaded=live.rules_loaded if live else None,
    )
