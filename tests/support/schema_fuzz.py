"""Hypothesis strategies generated from the gateway's own schemas, for hostile inputs that reach
the typed paths (random bytes rarely do): every device profile's resources, every Hermes message
model, the consent and erasure messages, and rule templates over fuzzed event attributes.

Each strategy yields `(topic, payload)`; the schema decides the shape, hostile values fill it in:
boundaries and just past them, type confusion, numbers as strings, huge and tiny floats, -0.0,
NaN/Infinity, 400-digit integers, impossible times, long strings and unicode oddities.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
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
from tests.support.fuzz import draw_examples

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


# Built once: a strategy made inside a draw is validated again on every draw, which cost more
# than the drawing itself (the long run draws 100k messages; see bench/reliability.py).
SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), HUGE_INT, st.floats(allow_nan=True, allow_infinity=True), SPECIAL_FLOATS,
    st.text(max_size=40), ODD_TEXT, LONG_TEXT,
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=5
)
FLAGS = st.booleans() | SCALARS
CUSTOMER_IDS = st.one_of(st.text(max_size=200), ODD_TEXT, HUGE_INT, st.integers(), SCALARS)
DEVICE_TIMES = IMPOSSIBLE_TIMES | SCALARS
EXTRA_KEYS = st.text(max_size=8)
ONE_IN_10, ONE_IN_6, ONE_IN_5, UP_TO_2, ASCII_ONLY = st.integers(0, 9), st.integers(0, 5), st.integers(0, 4), st.integers(0, 2), st.booleans()


def scalars() -> st.SearchStrategy[Any]:
    return SCALARS


def any_json() -> st.SearchStrategy[Any]:
    return ANY_JSON


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


def profile_message(profile: DeviceProfile) -> st.SearchStrategy[tuple[str, bytes]]:
    """Messages on the profile's topic, shaped by its resources (each present 9 times in 10),
    presence keys, customer and device-time fields, plus unknown keys."""
    values = [(resource.source, resource_value(resource)) for resource in profile.resources if resource.source != "."]
    text_value = resource_value(profile.resources[0]) if profile.format == "text" else None

    @st.composite
    def message(draw: st.DrawFn) -> tuple[str, bytes]:
        topic = _topic(profile, draw(DEVICE_NAMES))
        if text_value is not None:
            value = draw(text_value)
            text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
            return topic, text.encode("utf-8", "surrogatepass")
        doc: dict[str, Any] = {}
        for key in profile.when_present:
            _set_path(doc, key, draw(FLAGS))
        for source, value_strategy in values:
            if draw(ONE_IN_10) > 0:
                _set_path(doc, source, draw(value_strategy))
        if profile.customer is not None:
            _set_path(doc, profile.customer, draw(CUSTOMER_IDS))
        if profile.device_time is not None:
            _set_path(doc, profile.device_time.source, draw(DEVICE_TIMES))
        for _ in range(draw(UP_TO_2)):
            doc[draw(EXTRA_KEYS)] = draw(SCALARS)
        text = json.dumps(doc, allow_nan=True, ensure_ascii=draw(ASCII_ONLY))
        return topic, text.encode("utf-8", "surrogatepass")

    return message()


def shipped_profiles(folder: Path = PROJECT_ROOT / "device_profiles") -> list[DeviceProfile]:
    profiles, problems = load_profiles(folder)
    assert not problems, problems
    return list(profiles)


def sensor_messages(profiles: Sequence[DeviceProfile]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(*(profile_message(p) for p in profiles))


# -- models with a JSON payload: Hermes, consent, erasure -----------------------------------
def _model_fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def model_payload(model: type[BaseModel]) -> st.SearchStrategy[bytes]:
    """A JSON object with the model's field names (some missing, some extra), hostile values;
    one in ten is not an object at all."""
    fields = _model_fields(model)

    @st.composite
    def payload(draw: st.DrawFn) -> bytes:
        doc: dict[str, Any] = {}
        for name in fields:
            if draw(ONE_IN_6) > 0:
                doc[name] = draw(ANY_JSON)
        if draw(ONE_IN_5) == 0:
            doc[draw(EXTRA_KEYS)] = draw(SCALARS)
        body: Any = doc if draw(ONE_IN_10) > 0 else draw(ANY_JSON)
        return json.dumps(body, allow_nan=True, ensure_ascii=draw(ASCII_ONLY)).encode("utf-8", "surrogatepass")

    return payload()


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
    """Each command topic equally often, its payload shaped by the topic's model (one payload
    strategy per model, built here once rather than per draw as a flatmap would)."""
    topics: dict[str, type[BaseModel]] = {**HERMES_TOPICS, **COMMAND_MODELS}
    return st.one_of(*(model_payload(topics[topic]).map(partial(_on_topic, topic)) for topic in sorted(topics)))


def _on_topic(topic: str, payload: bytes) -> tuple[str, bytes]:
    return topic, payload


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


# -- long runs: many examples, drawn in chunks ------------------------------------------------
def fuzz_sources(profiles: Sequence[DeviceProfile]) -> dict[str, st.SearchStrategy[tuple[str, bytes]]]:
    """One strategy per source of messages: each device profile (`profile:<name>`) and each
    command topic (`hermes:<topic>`, `consent`, `erasure`), so a long run covers each alike."""
    sources: dict[str, st.SearchStrategy[tuple[str, bytes]]] = {f"profile:{p.name}": profile_message(p) for p in profiles}
    for topic, hermes_model in HERMES_TOPICS.items():
        sources[f"hermes:{topic.removeprefix('hermes/')}"] = model_payload(hermes_model).map(partial(_on_topic, topic))
    for topic, model in COMMAND_MODELS.items():
        sources[topic.rsplit("/", 1)[1]] = model_payload(model).map(partial(_on_topic, topic))
    return sources


def draw_in_chunks(total: int, chunk: int = 500, seed: int = 2024, workers: int = 1) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """`total` distinct messages from every source of `fuzz_sources(shipped_profiles())`, as
    (source, messages) chunks: round after round, `chunk` examples of each source, each chunk its
    own seeded hypothesis run, repeats dropped; with `workers` > 1 drawn in that many processes.

    Why chunks: one hypothesis run of 100,000 examples slows as it goes (it keeps a tree of every
    choice it made, to avoid repeats and to mutate earlier examples), and the caller could send
    nothing until it ended; runs of a few hundred keep their speed, and each chunk can be sent
    while the next ones are drawn. A run mutates its own examples, so about a quarter repeat within
    a chunk: they are dropped here, and only distinct messages count."""
    names = list(_shipped_sources())
    specs = ((names[i % len(names)], chunk, seed + i) for i in itertools.count())
    seen: set[bytes] = set()
    produced = 0
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else contextlib.nullcontext() as pool:
        ahead: deque[Future[tuple[str, list[tuple[str, bytes]]]] | tuple[str, list[tuple[str, bytes]]]] = deque()
        while produced < total:
            while len(ahead) < max(1, 2 * workers):
                spec = next(specs)
                ahead.append(pool.submit(_draw_chunk, spec) if pool is not None else _draw_chunk(spec))
            head = ahead.popleft()
            name, drawn = head.result() if isinstance(head, Future) else head
            fresh: list[tuple[str, bytes]] = []
            for topic, payload in drawn:
                key = hashlib.blake2b(topic.encode("utf-8", "surrogatepass") + b"\0" + payload, digest_size=12).digest()
                if key not in seen:
                    seen.add(key)
                    fresh.append((topic, payload))
            fresh = fresh[: total - produced]
            produced += len(fresh)
            yield name, fresh
        for left in ahead:
            if isinstance(left, Future):
                left.cancel()


@functools.cache
def _shipped_sources() -> dict[str, st.SearchStrategy[tuple[str, bytes]]]:
    """Built once per process (strategies do not pickle: each worker builds its own)."""
    return fuzz_sources(shipped_profiles())


def _draw_chunk(spec: tuple[str, int, int]) -> tuple[str, list[tuple[str, bytes]]]:
    name, count, chunk_seed = spec
    return name, draw_examples(_shipped_sources()[name], count, seed=chunk_seed)
