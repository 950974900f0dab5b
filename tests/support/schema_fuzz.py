"""Hypothesis strategies generated from the gateway's own schemas, for hostile inputs that reach
the typed paths (random bytes rarely do): every device profile's resources, every Hermes message
model, the consent and erasure messages, and rule templates over fuzzed event attributes.

Each strategy yields `(topic, payload)`; the schema decides the shape, hostile values fill it in:
boundaries and just past them, type confusion, numbers as strings, huge and tiny floats, -0.0,
NaN/Infinity, 400-digit integers, impossible times, long strings and unicode oddities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from gateway.config.settings import PROJECT_ROOT
from gateway.consent.model import ConsentMessage, ErasureMessage
from gateway.devices.profile import DeviceProfile, Resource
from gateway.devices.registry import load_profiles
from gateway.hermes import asr, dialogue, error, hotword, intent, nlu, tts
from gateway.hermes.base import HermesMessage

SITE = "shop1"

# Texts that have broken parsers, encoders or displays somewhere.
ODD_TEXT = st.sampled_from([
    "", " ", "\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "e\u0301", "🙂" * 3, "\U0010ffff", "NaN", "Infinity",
    "-0", "1e999", "0x10", "1_000", " 42 ", "true", "null", "{}", "[]", "../../etc/passwd", "%s%n", "\\u0000",
])
# Long texts built, not drawn character by character (which makes hypothesis slow).
LONG_TEXT = st.integers(min_value=600, max_value=3000).map(lambda n: "a\u0301🙂" * n)
HUGE_INT = st.integers(min_value=380, max_value=420).map(lambda n: int("9" * n))
SPECIAL_FLOATS = st.sampled_from([
    0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
    float("nan"), float("inf"), float("-inf"), 1e-300, 1e300, 2.0**63, -(2.0**63), 2.0**53 + 1,
])
IMPOSSIBLE_TIMES = st.sampled_from([
    "0001-01-01T00:00:00", "9999-12-31T23:59:59", "1970-01-01T00:00:00", "2026-02-30T10:00:00",
    "2026-13-01T00:00:00", "2026-06-01T25:61:61", "2026-06-01T10:00:00+25:00", "", "now", "2026",
    "2026-06-01T10:00:00.123456789", "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z",
    0, -1, -(2**63), 2**63, 1e20, -1e20, 253402300800, 4102444800000, 946684799, 1e308,
])


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(), HUGE_INT, st.floats(allow_nan=True, allow_infinity=True), SPECIAL_FLOATS,
        st.text(max_size=40), ODD_TEXT, LONG_TEXT,
    )


def any_json() -> st.SearchStrategy[Any]:
    return st.recursive(scalars(), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=5)


def resource_value(resource: Resource) -> st.SearchStrategy[Any]:
    """Values for one resource: near its declared range (in raw units), past it, and of every
    other type."""
    numbers: list[float] = [0.0, -0.0, 1.0, -1.0]
    for bound in (resource.minimum, resource.maximum):
        if bound is not None:
            raw = (bound - resource.offset) / resource.scale if resource.scale else bound
            numbers += [raw, raw - 1, raw + 1, raw - 1e-9, raw + 1e-9, raw * 10, -raw]
    near = st.sampled_from(numbers)
    as_int = near.map(lambda x: int(x) if abs(x) < 1e18 else 0)
    mapped = st.sampled_from(sorted(resource.map)) if resource.map else st.nothing()
    return st.one_of(
        near, as_int, near.map(repr), as_int.map(str), mapped, st.booleans(), HUGE_INT, HUGE_INT.map(lambda n: -n),
        SPECIAL_FLOATS, ODD_TEXT, LONG_TEXT, st.lists(near, max_size=3),
        st.dictionaries(st.text(max_size=4), near, max_size=2), st.none(),
    )


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _topic(profile: DeviceProfile, device: str) -> str:
    return profile.topic.replace("{site}", SITE).replace("{device}", device)


DEVICE_NAMES = st.one_of(
    st.sampled_from(["entrance-motion", "coolroom", "d1", "x" * 200, "ü-sensor", "🙂"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/+#\x00"), min_size=1, max_size=30),
)


@st.composite
def profile_message(draw: st.DrawFn, profile: DeviceProfile) -> tuple[str, bytes]:
    device = draw(DEVICE_NAMES)
    topic = _topic(profile, device)
    if profile.format == "text":
        value = draw(resource_value(profile.resources[0]))
        text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
        return topic, text.encode("utf-8", "surrogatepass")
    doc: dict[str, Any] = {}
    for key in profile.when_present:
        _set_path(doc, key, draw(st.booleans() | scalars()))
    for resource in profile.resources:
        if resource.source != "." and draw(st.integers(0, 9)) > 0:
            _set_path(doc, resource.source, draw(resource_value(resource)))
    if profile.customer is not None:
        _set_path(doc, profile.customer, draw(st.one_of(st.text(max_size=200), ODD_TEXT, HUGE_INT, st.integers(), scalars())))
    if profile.device_time is not None:
        _set_path(doc, profile.device_time.source, draw(IMPOSSIBLE_TIMES | scalars()))
    for _ in range(draw(st.integers(0, 2))):
        doc[draw(st.text(max_size=8))] = draw(scalars())
    text = json.dumps(doc, allow_nan=True, ensure_ascii=draw(st.booleans()))
    return topic, text.encode("utf-8", "surrogatepass")


def shipped_profiles(folder: Path = PROJECT_ROOT / "device_profiles") -> list[DeviceProfile]:
    profiles, problems = load_profiles(folder)
    assert not problems, problems
    return list(profiles)


def sensor_messages(profiles: Sequence[DeviceProfile]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(*(profile_message(p) for p in profiles))


# -- models with a JSON payload: Hermes, consent, erasure -----------------------------------
def _model_fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


@st.composite
def model_payload(draw: st.DrawFn, model: type[BaseModel]) -> bytes:
    """A JSON object with the model's field names (some missing, some extra), hostile values."""
    doc: dict[str, Any] = {}
    for name in _model_fields(model):
        if draw(st.integers(0, 5)) > 0:
            doc[name] = draw(any_json())
    if draw(st.integers(0, 4)) == 0:
        doc[draw(st.text(max_size=8))] = draw(scalars())
    body: Any = doc if draw(st.integers(0, 9)) > 0 else draw(any_json())
    return json.dumps(body, allow_nan=True, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


def hermes_models() -> list[type[HermesMessage]]:
    found: list[type[HermesMessage]] = []
    for module in (asr, dialogue, error, hotword, intent, nlu, tts):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and hasattr(value, "from_json") and value.__module__ == module.__name__:
                found.append(value)  # type: ignore[arg-type]
    return found


# Inbound Hermes control topics the gateway routes, with their model.
HERMES_TOPICS: dict[str, type[HermesMessage]] = {
    "hermes/dialogueManager/startSession": dialogue.DialogueStartSession,
    "hermes/dialogueManager/continueSession": dialogue.DialogueContinueSession,
    "hermes/dialogueManager/endSession": dialogue.DialogueEndSession,
    "hermes/asr/startListening": asr.AsrStartListening,
    "hermes/asr/stopListening": asr.AsrStopListening,
    "hermes/nlu/query": nlu.NluQuery,
    "hermes/hotword/default/detected": hotword.HotwordDetected,
}
COMMAND_MODELS: dict[str, type[BaseModel]] = {
    f"touchgate/{SITE}/consent": ConsentMessage,
    f"touchgate/{SITE}/erasure": ErasureMessage,
}


def command_messages() -> st.SearchStrategy[tuple[str, bytes]]:
    topics: dict[str, type[BaseModel]] = {**HERMES_TOPICS, **COMMAND_MODELS}
    return st.sampled_from(sorted(topics)).flatmap(lambda t: model_payload(topics[t]).map(lambda p: (t, p)))


# -- rule templates ---------------------------------------------------------------------------
_OPERATORS = ["/", "//", "%", "*", "**", "+", "-"]
_FILTERS = ["round", "int", "float", "abs", "string", "length", "sum", "first", "max", "min", "filesizeformat"]


@st.composite
def rule_template(draw: st.DrawFn, attributes: Sequence[str]) -> str:
    attr = f"event.attributes.{draw(st.sampled_from(list(attributes)))}"
    number = draw(st.sampled_from(["0", "1", "1000", "-1", "1e308", "0.0", "10**10", "9" * 30]))
    shape = draw(st.integers(0, 5))
    op = draw(st.sampled_from(_OPERATORS))
    if shape == 0:
        return f"{{{{ {number} {op} {attr} }}}}"
    if shape == 1:
        return f"{{{{ {attr} {op} {number} }}}}"
    if shape == 2:
        return f"{{{{ {attr} | {draw(st.sampled_from(_FILTERS))} }}}}"
    if shape == 3:
        return f"{{% for i in range({attr}) %}}x{{% endfor %}}"
    if shape == 4:
        return f"{{{{ '%d' % {attr} }}}} {{{{ {attr} ** {attr} }}}}"
    return f"{{{{ ({attr} {op} {number}) | round({draw(st.integers(-3, 400))}) }}}}"


def hostile_attributes() -> st.SearchStrategy[dict[str, Any]]:
    names = ["illuminance", "temperature", "humidity", "occupancy", "count", "value"]
    return st.dictionaries(st.sampled_from(names), scalars() | SPECIAL_FLOATS | HUGE_INT, max_size=6)


def generated_rules(templates: Sequence[str]) -> str:
    """A rules file whose rules say each template on every occupancy event (no limits)."""
    rules = [
        {"id": f"fuzz-{i}", "trigger": {"kind": "occupancy"}, "actions": [{"say": {"text": text}}]}
        for i, text in enumerate(templates)
    ]
    return json.dumps({"rules": rules})  # YAML is a superset of JSON
