"""Schema-driven fuzzing, bounded (the long run is `bench/reliability.py --schema-fuzz`): hostile
values shaped by each device profile, each Hermes model, the consent and erasure messages, and rule
templates over fuzzed attributes. Each must end as a stored event or a dead letter with a reason,
a parse error, or a rule's recorded error: never an exception out of the path that handles it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.consent.inbox import Rejection, parse_consent, parse_erasure
from gateway.devices.normalise import Normaliser
from gateway.hermes.base import HermesParseError
from gateway.model.deadletter import DeadLetter
from gateway.model.event import Event
from gateway.model.gate import NoConsents, StrictGate
from gateway.model.inbound import InboundMessage
from gateway.rules.engine import Engine, EngineConfig
from gateway.rules.replay import MemoryConsents
from gateway.store.database import connect
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from tests.rules.support import T0, rules_from
from tests.support.fuzz import draw_examples
from tests.support.schema_fuzz import (
    COMMAND_MODELS,
    HERMES_TOPICS,
    SITE,
    command_messages,
    generated_rules,
    hermes_models,
    hostile_attributes,
    model_payload,
    rule_template,
    sensor_messages,
    shipped_profiles,
)

PROFILES = shipped_profiles()
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
# Model payloads cost more to draw (nested JSON): fewer here, 100k+ in bench/reliability.py.
FUZZ_MODELS = settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    database = connect(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    database.conn.execute("PRAGMA synchronous=OFF")  # a test of what the store accepts, not of fsync
    yield database
    database.conn.close()


def inbound(topic: str, payload: bytes, mid: int = 1) -> InboundMessage:
    return InboundMessage(topic, payload, 1, mid, T0)


@FUZZ
@given(message=sensor_messages(PROFILES))
def test_every_profile_message_is_stored_or_dead_lettered(message: tuple[str, bytes], db: Any) -> None:
    normaliser = Normaliser(PROFILES, SITE, 256 * 1024, 4096)
    gate = StrictGate(NoConsents())
    result = normaliser.normalise(inbound(*message))
    batch = IngestBatch()
    if isinstance(result, DeadLetter):
        assert result.reason and result.detail
        batch.dead_letters.append(result)
    else:
        assert isinstance(result, Event)
        for value in result.attributes.values():
            assert not isinstance(value, float) or (math.isfinite(value) and math.copysign(1.0, value) == 1.0 or value != 0)
            assert not isinstance(value, str) or len(value) <= 1024
        decision = gate.decide(result)
        if decision.local is not None:
            batch.events.append(decision.local)
    write_ingest_batch(db, batch)  # the store takes whatever normalising let through


@FUZZ_MODELS
@given(data=st.data())
def test_every_hermes_model_parses_or_says_why(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(hermes_models()))
    payload = data.draw(model_payload(model))
    try:
        model.from_json(payload)
    except HermesParseError as exc:
        assert str(exc)


@FUZZ_MODELS
@given(message=command_messages())
def test_consent_and_erasure_messages_parse_or_are_rejected(message: tuple[str, bytes]) -> None:
    topic, payload = message
    if topic in HERMES_TOPICS:
        try:
            HERMES_TOPICS[topic].from_json(payload)
        except HermesParseError:
            pass
        return
    assert topic in COMMAND_MODELS
    parsed = parse_consent(inbound(topic, payload), frozenset({"analytics", "personalisation"})) if topic.endswith("consent") else parse_erasure(inbound(topic, payload))
    if isinstance(parsed, Rejection):
        assert parsed.detail


SHIPPED_RULES = (Path(__file__).resolve().parents[1] / "rules" / "shop.yaml").read_text()
TEMPLATE_ATTRIBUTES = ["illuminance", "temperature", "count", "value"]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> list[Engine]:
    """The shipped rules, and 40 generated arithmetic/filter templates (one rule each): built
    once, then fed fuzzed events (their caps and counters carry over, as in a long run)."""
    templates = draw_examples(rule_template(TEMPLATE_ATTRIBUTES), 40)
    return [
        Engine(rules_from(tmp_path_factory.mktemp("rules"), text), MemoryConsents(), EngineConfig(timezone="UTC"))
        for text in (SHIPPED_RULES, generated_rules(templates))
    ]


@FUZZ
@given(attributes=hostile_attributes(), kind=st.sampled_from(["occupancy", "identify", "footfall", "climate"]), at=st.integers(0, 10**6))
def test_rule_templates_over_fuzzed_attributes_never_escape(attributes: dict[str, Any], kind: str, at: int, engines: list[Engine]) -> None:
    try:
        event = Event(received_at=T0 + at, site=SITE, device="shop1/coffee-shelf", kind=kind, purpose="analytics", attributes=attributes)
    except ValueError:
        return  # not an event the normaliser could make (e.g. a non-finite float)
    for engine in engines:
        for decision in engine.process(event):
            assert decision.fired or decision.reason
