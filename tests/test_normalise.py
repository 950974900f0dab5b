"""Normalised events are valid events; names and ids too long for the model are dead-lettered."""

from __future__ import annotations

import time

import yaml

from gateway.config.settings import PROJECT_ROOT
from gateway.devices.normalise import Normaliser
from gateway.devices.registry import load_profiles
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event, event_from_dict, event_to_dict
from gateway.model.inbound import InboundMessage


def normaliser() -> Normaliser:
    profiles, problems = load_profiles(PROJECT_ROOT / "device_profiles")
    assert not problems
    return Normaliser(profiles, "shop1", 65536, 4096)


def message(topic: str, payload: bytes) -> InboundMessage:
    return InboundMessage(topic, payload, 1, 1, time.time())


def test_every_sample_event_passes_the_event_models_validation() -> None:
    n = normaliser()
    checked = 0
    for path in sorted((PROJECT_ROOT / "device_profiles" / "samples").glob("*.yaml")):
        for sample in yaml.safe_load(path.read_text()):
            event = n.normalise(message(sample["topic"], sample["payload"].encode()))
            assert isinstance(event, Event), event
            assert event_from_dict(event_to_dict(event)) == event
            checked += 1
    assert checked >= 9


def test_names_and_ids_too_long_for_the_event_model_are_dead_lettered() -> None:
    n = normaliser()
    long_device = "d" * 201
    result = n.normalise(message(f"zigbee2mqtt/shop1/{long_device}", b'{"occupancy": true}'))
    assert isinstance(result, DeadLetter) and result.reason is DeadLetterReason.INVALID_EVENT
    long_card = "A" * 130
    result = n.normalise(message("tele/cardreader_kiosk1/SENSOR", b'{"PN532": {"UID": "%s"}}' % long_card.encode()))
    assert isinstance(result, DeadLetter) and result.reason is DeadLetterReason.INVALID_EVENT


def test_ids_are_unique_and_time_ordered() -> None:
    n = normaliser()
    events = [n.normalise(message("shellies/shellydw2-1/sensor/state", b"open")) for _ in range(2000)]
    ids = [e.id for e in events if isinstance(e, Event)]
    assert len(set(ids)) == 2000
    assert ids == sorted(ids)
