"""Traffic for the sync tests: anonymous sensor events and card taps of a consented and an
unconsented customer, published as the real devices publish them; and the set of event ids the
central service must end up holding (exactly once) or never see."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.clients import Publisher
from tests.sync.conftest import CONSENTED, UNCONSENTED, local_rows


def occupancy(n: int) -> tuple[str, str]:
    payload = {"battery": 90, "illuminance": n % 1000, "linkquality": 100, "occupancy": n % 2 == 0, "voltage": 3000}
    return f"zigbee2mqtt/shop1/motion-{n % 7}", json.dumps(payload)


def card_tap(customer_id: str, n: int) -> tuple[str, str]:
    uid = customer_id.removeprefix("card:")
    payload = {"Time": "2026-11-28T10:02:44", "PN532": {"UID": uid, "DATA": f"tap{n}"}}
    return "tele/cardreader_kiosk1/SENSOR", json.dumps(payload)


def shop_traffic(anonymous: int, consented: int, unconsented: int) -> list[tuple[str, str]]:
    messages = [occupancy(i) for i in range(anonymous)]
    messages += [card_tap(CONSENTED, i) for i in range(consented)]
    messages += [card_tap(UNCONSENTED, i) for i in range(unconsented)]
    # Interleave so every batch mixes the kinds.
    return [m for pair in zip(messages[::2], messages[1::2], strict=False) for m in pair] + (
        [messages[-1]] if len(messages) % 2 else []
    )


def publish(host: str, port: int, messages: list[tuple[str, str]]) -> None:
    with Publisher(host, port, client_id="sync-shop") as pub:
        pub.publish_all(messages)


def expected_central_ids(gateway_db: Path) -> set[str]:
    """What may leave: anonymous events, and personal ones that kept their customer id (consented).
    Unconsented taps are stored locally stripped of the id (kind identify, no customer)."""
    rows = local_rows(gateway_db, "SELECT id, kind, customer_id FROM events")
    return {i for i, kind, customer in rows if kind != "identify" or customer is not None}


def unconsented_local_ids(gateway_db: Path) -> set[str]:
    rows = local_rows(gateway_db, "SELECT id FROM events WHERE kind = 'identify' AND customer_id IS NULL")
    return {r[0] for r in rows}


def outbox_count(gateway_db: Path) -> int:
    return int(local_rows(gateway_db, "SELECT COUNT(*) FROM outbox")[0][0])
