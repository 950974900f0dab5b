"""Structured logs: one JSON object per line on stdout (journald keeps them on the Pi).

Callers put structured fields in `extra={"fields": {...}}`, e.g. `event_fields(event)` for an
event's id, kind and device. A customer id never appears in clear: any field named `customer_id`
is replaced by `customer`, a keyed hash of it. The consent part installs its own keyed hash
(`use_pseudonymiser`), stable across restarts so an operator can follow one customer through the
log; until then a per-process random key is used (hashes then only correlate within one run).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from gateway.model.event import Event

Pseudonymise = Callable[[str], str]
PERSONAL_FIELDS = frozenset({"customer_id", "customer_ids"})


def ephemeral_pseudonymiser() -> Pseudonymise:
    key = secrets.token_bytes(32)

    def pseudonymise(customer_id: str) -> str:
        return "c-" + hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()[:16]

    return pseudonymise


class JsonLineFormatter(logging.Formatter):
    def __init__(self, pseudonymise: Pseudonymise | None = None) -> None:
        super().__init__()
        self.pseudonymise = pseudonymise or ephemeral_pseudonymiser()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(self._scrub(extra))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)

    def _scrub(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not PERSONAL_FIELDS.intersection(fields):
            return fields
        out = {k: v for k, v in fields.items() if k not in PERSONAL_FIELDS}
        single = fields.get("customer_id")
        if single is not None:
            out["customer"] = self.pseudonymise(str(single))
        many = fields.get("customer_ids")
        if many is not None:
            out["customers"] = [self.pseudonymise(str(c)) for c in many]
        return out


def event_fields(event: Event, **more: Any) -> dict[str, Any]:
    """The fields that identify an event in a log line (the formatter hashes the customer id)."""
    fields: dict[str, Any] = {"event_id": event.id, "kind": event.kind, "device": event.device, "site": event.site}
    if event.customer_id is not None:
        fields["customer_id"] = event.customer_id
    fields.update(more)
    return fields


def setup_logging(level: str, pseudonymise: Pseudonymise | None = None, stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLineFormatter(pseudonymise))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime


def use_pseudonymiser(pseudonymise: Pseudonymise) -> None:
    """Make every JSON log handler hash customer ids with `pseudonymise` from now on (the consent
    part calls this once it has its key)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonLineFormatter):
            handler.formatter.pseudonymise = pseudonymise


def current_pseudonymiser() -> Pseudonymise | None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonLineFormatter):
            return handler.formatter.pseudonymise
    return None
