"""How parts plug in: build order from ports, a clear refusal when a port is missing, and MQTT
routes that may not overlap (gateway/assembly.py, gateway/mqtt_routes.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import paho.mqtt.client as paho
from gateway.assembly import build_order, enabled_parts
from gateway.config.problems import ConfigError
from gateway.config.settings import Settings
from gateway.mqtt_routes import Route, RouteOverlap, RouteTable, filters_overlap
from gateway.part import Built, Core, PartBase
from gateway.ports import CONSENT_LOOKUP, INTENT_SINK, SPEAKER, Port, Ports


class _Part(PartBase):
    def __init__(self, name: str, requires: tuple[Port[Any], ...] = (), uses: tuple[Port[Any], ...] = (), provides: tuple[Port[Any], ...] = ()) -> None:
        self.name, self.section = name, name
        self.requires, self.uses, self.provides = requires, uses, provides

    async def build(self, core: Core, ports: Ports) -> Built:
        return Built()


def test_parts_are_built_after_what_they_need() -> None:
    voice = _Part("voice", uses=(SPEAKER, INTENT_SINK, CONSENT_LOOKUP))
    rules = _Part("rules", uses=(CONSENT_LOOKUP,), provides=(INTENT_SINK,))
    tts = _Part("tts", provides=(SPEAKER,))
    consent = _Part("consent", provides=(CONSENT_LOOKUP,))
    order = [p.name for p in build_order([voice, rules, tts, consent])]
    assert order.index("consent") < order.index("rules") < order.index("voice")
    assert order.index("tts") < order.index("voice")


def test_a_used_port_nobody_offers_is_fine_a_required_one_is_refused() -> None:
    assert [p.name for p in build_order([_Part("voice", uses=(SPEAKER,))])] == ["voice"]
    with pytest.raises(ConfigError, match="part voice needs the speaker, which no enabled part offers"):
        build_order([_Part("voice", requires=(SPEAKER,))])


def test_a_port_offered_twice_and_a_circle_are_refused() -> None:
    with pytest.raises(ConfigError, match="offered by both a and b"):
        build_order([_Part("a", provides=(SPEAKER,)), _Part("b", provides=(SPEAKER,))])
    with pytest.raises(ConfigError, match="circle"):
        build_order([_Part("a", uses=(SPEAKER,), provides=(INTENT_SINK,)), _Part("b", uses=(INTENT_SINK,), provides=(SPEAKER,))])


def test_the_real_parts_order_and_switches() -> None:
    names = [p.name for p in enabled_parts(Settings())]
    assert names.index("consent") < names.index("rules") < names.index("sync") < names.index("api")
    assert names.index("tts") < names.index("voice") and names.index("rules") < names.index("voice")
    assert names.index("rules") < names.index("analytics") < names.index("api") and names.index("sync") < names.index("analytics")
    off = [p.name for p in enabled_parts(Settings(voice={"enabled": False}, tts={"enabled": False}, rules={"enabled": False}))]
    assert off == ["consent", "sync", "analytics", "api"]
    bare = Settings(voice={"enabled": False}, tts={"enabled": False}, rules={"enabled": False}, analytics={"enabled": False})
    assert [p.name for p in enabled_parts(bare)] == ["consent", "sync", "api"]


def _handler(message: object) -> None: ...


def _other(message: object) -> None: ...


def test_overlapping_routes_are_refused_when_added() -> None:
    table = RouteTable()
    table.add(Route("hermes/intent/#", 1, _handler, False))
    with pytest.raises(RouteOverlap, match="'hermes/\\+/Coffee' overlaps 'hermes/intent/#'"):
        table.add(Route("hermes/+/Coffee", 1, _other, False))
    table.add(Route("hermes/asr/startListening", 1, _other, False))  # disjoint
    table.add(Route("hermes/intent/Tea", 1, _handler, False))  # same handler: harmless


def test_a_fallback_route_yields_whatever_the_order() -> None:
    for fallback_first in (True, False):
        table = RouteTable()
        routes = [Route("+/+/consent", 1, _handler, False, fallback=True), Route("touchgate/+/consent", 1, _other, False)]
        for route in routes if fallback_first else reversed(routes):
            table.add(route)
        assert table.find("touchgate/shop1/consent").handler is _other  # type: ignore[union-attr]
        assert table.find("zigbee/shop1/consent").handler is _handler  # type: ignore[union-attr]


_LEVEL = st.sampled_from(["a", "b", "+", "$s"])


@st.composite
def _filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(_LEVEL, min_size=1, max_size=4))
    if draw(st.booleans()):
        levels.append("#")
    return "/".join(levels)


@given(_filters(), _filters(), st.lists(st.sampled_from(["a", "b", "c", "$s"]), min_size=1, max_size=6))
def test_overlap_agrees_with_paho_matching(left: str, right: str, topic_levels: list[str]) -> None:
    """A topic both filters match (per paho) means they overlap; the converse is checked by
    building the witness topic from the two filters."""
    topic = "/".join(topic_levels)
    if paho.topic_matches_sub(left, topic) and paho.topic_matches_sub(right, topic):
        assert filters_overlap(left, right)
    if filters_overlap(left, right):
        witness = _witness(left.split("/"), right.split("/"))
        assert paho.topic_matches_sub(left, witness) and paho.topic_matches_sub(right, witness), witness


def _witness(left: list[str], right: list[str]) -> str:
    """A topic matching both overlapping filters: each level the literal one of them names."""
    out: list[str] = []
    for index in range(max(len(left), len(right))):
        x = left[index] if index < len(left) else "#"
        y = right[index] if index < len(right) else "#"
        if x == "#" and y == "#":
            break
        if x == "#":
            out.extend(level if level not in ("+", "#") else "w" for level in right[index:])
            break
        if y == "#":
            out.extend(level if level not in ("+", "#") else "w" for level in left[index:])
            break
        out.append(x if x != "+" else (y if y != "+" else "w"))
    return "/".join(out)


def test_wyoming_is_built_after_voice_and_tts_and_refused_without_voice() -> None:
    names = [p.name for p in enabled_parts(Settings(wyoming={"enabled": True}))]
    assert names.index("voice") < names.index("wyoming") and names.index("tts") < names.index("wyoming")
    with pytest.raises(ConfigError, match="part wyoming needs the site audio"):
        enabled_parts(Settings(wyoming={"enabled": True}, voice={"enabled": False}))
