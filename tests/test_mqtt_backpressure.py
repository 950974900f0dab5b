"""The MQTT client's read backpressure against a real Mosquitto that sends its whole backlog at
once (`max_inflight_messages 0`, MQTT 3.1.1: no Receive Maximum): reading stops at twice
`receive_maximum` unacknowledged messages and starts again from `ack()` once half are acknowledged.

A regression guard: when `ack_now` was added, resuming moved out of `ack()`, so a pause (a store
that failed for a while: disk full) lasted until the broker dropped the connection for a missed
keepalive, and the backlog arrived only after the reconnect, a minute later.
"""

from __future__ import annotations

import asyncio

from gateway.config.settings import MqttSettings
from gateway.model.inbound import InboundMessage
from gateway.mqtt import MqttClient
from tests.support.clients import Publisher
from tests.support.gateway import wait_until
from tests.support.mosquitto import Mosquitto

MESSAGES = 100
RECEIVE_MAXIMUM = 5  # reading pauses at 10 unacknowledged


async def test_reading_resumes_from_ack_without_a_reconnect(broker: Mosquitto) -> None:
    # A keepalive far beyond the test's waits: only resumed reading can deliver the backlog.
    settings = MqttSettings(
        host=broker.host, port=broker.port, client_id="gw-backpressure", protocol="3.1.1",
        receive_maximum=RECEIVE_MAXIMUM, keepalive_s=600,
    )
    client = MqttClient(settings)
    received: list[InboundMessage] = []
    client.route("load/#", received.append)  # acknowledged below, as a committing store would
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.wait_connected(), 10)
        with Publisher(broker.host, broker.port, client_id="backpressure-load") as pub:
            await asyncio.to_thread(pub.publish_all, [("load/x", str(n)) for n in range(MESSAGES)])
        await wait_until(lambda: len(received) == 2 * RECEIVE_MAXIMUM)
        acked = 0
        while acked < MESSAGES:
            # Everything received so far is acknowledged; more must arrive without a reconnect.
            await wait_until(lambda: len(received) > acked, timeout=10)
            while acked < len(received):
                client.ack(received[acked])
                acked += 1
        assert [int(m.payload) for m in received] == list(range(MESSAGES))
        assert not any(m.dup for m in received), "delivered again after a reconnect, not by resumed reading"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
