"""The simulated shop's people, for the zone figures: an entrance and a checkout-lane people
counter, a till, and phones near the checkout advertising BLE with MACs that rotate (as phones do).
Publishes the devices' real wire formats, so the figures move on the status page while the demo runs."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

from gateway.demo.shop import Publish

ROTATE_EVERY_TICKS = 90  # a phone's MAC changes every ~90 s in the demo (15 min in real phones)


@dataclass
class _Shopper:
    ticks_left: int
    queueing_at: int  # tick at which they join the checkout queue (-1: never)
    phone_mac: str | None = None
    served: bool = False
    in_queue: bool = False
    age: int = field(default=0)


def _mac(rng: random.Random) -> str:
    return ":".join(f"{rng.randrange(256):02X}" for _ in range(6))


async def simulate_zones(publish: Publish, site: str, rng: random.Random, period_s: float = 1.0) -> None:
    """Until cancelled: shoppers come in, some queue at the checkout (one till, ~20 s a customer),
    and leave; the counters report every 5 s, the BLE receiver at the checkout every 2 s."""
    inside: list[_Shopper] = []
    tick = 0
    counts = {"entrance": [0, 0], "checkout": [0, 0]}
    serving: _Shopper | None = None
    serve_left = 0
    while True:
        tick += 1
        busy = 0.35 + 0.25 * ((tick // 120) % 2)  # quieter and busier stretches
        if rng.random() < busy:
            stay = rng.randint(40, 160)
            inside.append(_Shopper(stay, rng.randint(10, stay - 5) if rng.random() < 0.7 else -1, _mac(rng) if rng.random() < 0.6 else None))
            counts["entrance"][0] += 1
        for shopper in inside:
            shopper.age += 1
            if shopper.phone_mac is not None and shopper.age % ROTATE_EVERY_TICKS == 0:
                shopper.phone_mac = _mac(rng)
            if shopper.age == shopper.queueing_at:
                shopper.in_queue = True
                counts["checkout"][0] += 1
        if serving is None:
            serving = next((s for s in inside if s.in_queue), None)
            serve_left = rng.randint(12, 28)
        elif (serve_left := serve_left - 1) <= 0:
            serving.in_queue, serving.served, serving.ticks_left = False, True, min(serving.ticks_left, serving.age + 5)
            counts["checkout"][1] += 1
            serving = None
            publish(f"pos/{site}/checkout-till-1/sale", json.dumps({"total_cents": rng.randint(150, 9000), "items": rng.randint(1, 9)}).encode())
        leaving = [s for s in inside if s.age >= s.ticks_left and not s.in_queue]
        for shopper in leaving:
            inside.remove(shopper)
            counts["entrance"][1] += 1
        if tick % 5 == 0:
            for zone, (entered, left) in counts.items():
                publish(f"milesight/{site}/{zone}-counter/uplink", json.dumps({"line_1_period_in": entered, "line_1_period_out": left}).encode())
                counts[zone] = [0, 0]
        if tick % 2 == 0:
            for shopper in inside:
                if shopper.in_queue and shopper.phone_mac is not None:
                    mac = shopper.phone_mac
                    publish(f"home/ble-checkout/BTtoMQTT/{mac.replace(':', '')}", json.dumps({"id": mac, "rssi": rng.randint(-80, -55)}).encode())
        await asyncio.sleep(period_s)
