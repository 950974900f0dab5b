"""The simulated shop: sensors and a card reader publishing their real wire formats."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import datetime

Publish = Callable[[str, bytes], None]

# Loyalty cards of the demo customers (profile_service/demo_seed.json has the same ids); the
# last one is unknown to the central service.
DEMO_CARDS = ("94D8FC5F", "04A1B2C3", "7F00AA12")


async def simulate_shop(publish: Publish, site: str, rng: random.Random, period_s: float = 1.0) -> None:
    """Publishes a plausible stream of shop events until cancelled."""
    tick = 0
    total_in = total_out = 0
    while True:
        tick += 1
        occupied = rng.random() < 0.6
        publish(
            f"zigbee2mqtt/{site}/entrance-motion",
            json.dumps({"battery": 96, "illuminance": rng.randint(200, 500), "linkquality": 110, "occupancy": occupied, "voltage": 3015}).encode(),
        )
        if tick % 2 == 0:
            publish(
                f"zigbee2mqtt/{site}/coffee-shelf",
                json.dumps({"battery": 88, "illuminance": 120, "linkquality": 90, "occupancy": rng.random() < 0.5, "voltage": 2990}).encode(),
            )
        if tick % 3 == 0:
            period_in, period_out = rng.randint(0, 6), rng.randint(0, 5)
            total_in, total_out = total_in + period_in, total_out + period_out
            publish(
                f"milesight/{site}/24E124716C123456/uplink",
                json.dumps({"line_1_period_in": period_in, "line_1_period_out": period_out, "line_1_total_in": total_in, "line_1_total_out": total_out}).encode(),
            )
        if tick % 4 == 0:
            publish("shellies/shellydw2-D8BFC01A2B3C/sensor/state", rng.choice([b"open", b"close"]))
            publish(
                f"zigbee2mqtt/{site}/fitting-room-1-door",
                json.dumps({"battery": 91, "contact": rng.random() < 0.5, "linkquality": 100, "voltage": 3005}).encode(),
            )
        if tick % 5 == 0:
            now = datetime.now().replace(microsecond=0).isoformat()
            publish(
                f"tele/{site}_coolroom/SENSOR",
                json.dumps({"Time": now, "AM2301": {"Temperature": round(rng.uniform(3, 5), 1), "Humidity": round(rng.uniform(60, 75), 1), "DewPoint": -0.5}, "TempUnit": "C"}).encode(),
            )
            publish(
                f"home/{site}/BTtoMQTT/C1A2B3C4D5E6",
                json.dumps({"id": "C1:A2:B3:C4:D5:E6", "rssi": rng.randint(-90, -50), "model_id": "IBEACON", "uuid": "e2c56db5dffb48d2b060d0f5a71096e0", "major": 100, "minor": 7, "txpower": -59, "distance": round(rng.uniform(0.5, 8), 2)}).encode(),
            )
        if tick % 7 == 0:
            now = datetime.now().replace(microsecond=0).isoformat()
            # The card reader stands at the entrance (its own site, as the rules' zones expect).
            publish("tele/cardreader_entrance/SENSOR", json.dumps({"Time": now, "PN532": {"UID": rng.choice(DEMO_CARDS), "DATA": ""}}).encode())
        if tick % 11 == 0:
            # A broken sensor: shows the dead-letter path.
            publish(f"zigbee2mqtt/{site}/entrance-motion", b'{"occupancy": "maybe", "battery": 300}')
        await asyncio.sleep(period_s)
