"""Commands that arrive as retained messages are refused, never executed.

A retained message is replayed by the broker on every (re)subscribe, so a retained erasure, consent
decision or Hermes control message would run again after every restart. Mosquitto (MQTT 3.1.1, and
MQTT 5 without retain-as-published, which the gateway never asks for) clears the retain flag on a
live delivery: a command published with retain while the gateway is connected still runs, once;
only the replays carry the flag. Those are dead-lettered `retained_command` and acknowledged, so
each command runs at most once however often the gateway restarts, and the operator sees in the
dead letters that a touchpoint publishes its commands retained (and should clear them).
"""

from __future__ import annotations

from gateway.model.deadletter import DeadLetterReason
from gateway.model.inbound import InboundMessage
from gateway.ports import DeadLetterSink


def refuse_if_retained(message: InboundMessage, dead_letter: DeadLetterSink) -> bool:
    """True (and the message dead-lettered, acknowledged once stored) for a retained replay."""
    if not message.retain:
        return False
    dead_letter(
        message,
        DeadLetterReason.RETAINED_COMMAND,
        "a command replayed as a retained message is not executed again; publish commands without retain",
    )
    return True
