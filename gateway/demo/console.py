"""What the demo prints: one line per stored event, dead letter and action."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TextIO

from gateway.config.settings import Settings
from gateway.model.deadletter import DeadLetter
from gateway.model.event import Event
from gateway.model.inbound import InboundMessage


class Console:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def line(self, tag: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self._out.write(f"{stamp}  {tag:<11} {text}\n")
        self._out.flush()

    def banner(self, broker: str, settings: Settings) -> None:
        self.line("demo", f"broker: {broker}")
        self.line("demo", f"database: {settings.store.path}")

    def events(self, events: list[Event]) -> None:
        for e in events:
            attrs = " ".join(f"{k}={v}" for k, v in e.attributes.items())
            who = " (customer)" if e.customer_id else ""
            self.line("stored", f"{e.kind:<10} {e.site}/{e.device}{who}  {attrs}")

    def dead_letters(self, letters: list[DeadLetter]) -> None:
        for d in letters:
            self.line("dead-letter", f"{d.topic}: {d.reason.value}: {d.detail}")

    def action(self, message: InboundMessage) -> None:
        self.line("action", f"{message.topic}: {message.payload[:200].decode('utf-8', 'replace')}")

    def summary(self, db_path: Path) -> None:
        if not db_path.exists():
            return
        with sqlite3.connect(db_path) as conn:
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "dead_letters", "outbox")}
        self.line("summary", f"events stored: {counts['events']}, dead letters: {counts['dead_letters']}, queued for sync: {counts['outbox']}")
        self.line("summary", f"database kept at {db_path}")
