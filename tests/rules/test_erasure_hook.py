"""Erasure reaches the rules engine's memory: a cached profile is not written back after 'forget'."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.consent.model import ConsentSource
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto


async def test_forget_drops_the_customer_from_the_rules_cache(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        assert runtime.service("rules") is not None and runtime.service("consent") is not None
        profiles = runtime.service("rules").engine.profiles
        profiles.put("card:1", {"loyalty_tier": "gold"}, {"loyalty_points": 5}, time.time())
        profiles.update_local("card:1", {"loyalty_points": 10})
        assert profiles.get("card:1") is not None
        await runtime.service("consent").forget("card:1", ConsentSource.TOUCHPOINT)
        assert profiles.get("card:1") is None
        assert all(customer != "card:1" for customer, _ in profiles.take_dirty())
