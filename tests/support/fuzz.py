"""Hostile input for the reliability suite: the real wire samples, mutated, plus hypothesis strategies.

Two ways to get payloads, for two jobs:
- `fuzz_message()` etc. are hypothesis strategies (the tests draw a few hundred examples with
  `draw_examples`, so hypothesis' edge cases - empty, huge, odd unicode - are among them);
- `FuzzCorpus(seed)` makes the same kinds of payloads with a seeded `random.Random`, fast enough
  for the 100k messages of `bench/reliability.py`.

The mutators work on the real samples of `device_profiles/samples/` and
`gateway/consent/samples/`: truncation, bit flips, huge sizes, deep nesting, wrong encodings,
NaN/inf, duplicate keys, swapped types. Every generated message says which input surface it is
for, so a test can reconcile what it sent with what each part counted.
"""

from __future__ import annotations

import io
import json
import random
import struct
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
DEVICE_SAMPLES = ROOT / "device_profiles" / "samples"
CONSENT_SAMPLES = ROOT / "gateway" / "consent" / "samples" / "messages.yaml"

# Bigger than the gateway's default max_payload_bytes (256 KiB): must be dead-lettered unread.
HUGE_BYTES = 300 * 1024
# Far deeper than any JSON parser's recursion limit.
DEEP = 50_000


class Surface(StrEnum):
    """Which part of the gateway takes a topic (and counts it)."""

    SENSOR = "sensor"  # device profiles -> ingest (QoS 1)
    CONSENT = "consent"  # touchgate/<site>/consent|erasure -> consent inbox (QoS 1)
    TTS = "tts"  # hermes/tts/say, playFinished -> TTS service (QoS 0)
    HERMES = "hermes"  # Hermes dialogue, ASR, NLU, hotword control messages -> voice part (QoS 1)
    AUDIO = "audio"  # hermes/audioServer/<site>/audioFrame, binary WAV (voice part)


@dataclass(frozen=True, slots=True)
class FuzzMessage:
    surface: Surface
    topic: str
    payload: bytes
    how: str  # the mutation applied, for failure messages

    @property
    def qos(self) -> int:
        return 0 if self.surface in (Surface.TTS, Surface.AUDIO) else 1  # as each part subscribes


@dataclass(frozen=True, slots=True)
class Sample:
    surface: Surface
    topic: str
    payload: bytes


def _load(path: Path) -> list[dict[str, Any]]:
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, list) else []


def device_samples() -> list[Sample]:
    return [
        Sample(Surface.SENSOR, s["topic"], str(s["payload"]).encode())
        for path in sorted(DEVICE_SAMPLES.glob("*.yaml"))
        for s in _load(path)
    ]


def consent_samples() -> list[Sample]:
    return [Sample(Surface.CONSENT, s["topic"], str(s["payload"]).encode()) for s in _load(CONSENT_SAMPLES)]


def tts_samples() -> list[Sample]:
    return [
        Sample(Surface.TTS, "hermes/tts/say", b'{"text": "We are open until eight tonight.", "siteId": "kiosk1", "lang": "en"}'),
        Sample(Surface.TTS, "hermes/tts/say", b'{"text": "Hallo!", "siteId": "kiosk1", "id": "r1", "sessionId": "s1"}'),
        Sample(Surface.TTS, "hermes/audioServer/kiosk1/playFinished", b'{"id": "r1", "siteId": "kiosk1", "sessionId": "s1"}'),
    ]


def hermes_samples() -> list[Sample]:
    """Hermes control messages as Rhasspy satellites and skills send them (camelCase fields)."""
    site = '"siteId": "kiosk1"'
    return [
        Sample(Surface.HERMES, "hermes/dialogueManager/startSession", f'{{{site}, "init": {{"type": "action", "canBeEnqueued": true}}}}'.encode()),
        Sample(Surface.HERMES, "hermes/dialogueManager/startSession", f'{{{site}, "init": {{"type": "notification", "text": "Hello"}}}}'.encode()),
        Sample(Surface.HERMES, "hermes/dialogueManager/continueSession", b'{"sessionId": "s1", "text": "Which size?", "intentFilter": ["AskPrice"]}'),
        Sample(Surface.HERMES, "hermes/dialogueManager/endSession", b'{"sessionId": "s1", "text": "Goodbye"}'),
        Sample(Surface.HERMES, "hermes/asr/startListening", f'{{{site}, "sessionId": "s1", "stopOnSilence": true}}'.encode()),
        Sample(Surface.HERMES, "hermes/asr/stopListening", f'{{{site}, "sessionId": "s1"}}'.encode()),
        Sample(Surface.HERMES, "hermes/nlu/query", f'{{"input": "when do you close", {site}, "sessionId": "s1"}}'.encode()),
        Sample(Surface.HERMES, "hermes/hotword/default/detected", f'{{"modelId": "default", {site}}}'.encode()),
    ]


def silence_wav(frames: int = 512, rate: int = 16000) -> bytes:
    """A short 16 kHz mono WAV chunk, as a Hermes audio server sends in audioFrame."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * frames)
    return out.getvalue()


def audio_samples() -> list[Sample]:
    return [Sample(Surface.AUDIO, "hermes/audioServer/kiosk1/audioFrame", silence_wav())]


def all_samples() -> list[Sample]:
    return device_samples() + consent_samples() + tts_samples() + hermes_samples() + audio_samples()


# -- mutators: (payload, rng) -> payload ------------------------------------------------------
Mutator = Callable[[bytes, random.Random], bytes]


def truncate(payload: bytes, rng: random.Random) -> bytes:
    return payload[: rng.randrange(len(payload))] if payload else payload


def bit_flips(payload: bytes, rng: random.Random) -> bytes:
    if not payload:
        return bytes([rng.randrange(256)])
    data = bytearray(payload)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def huge(payload: bytes, rng: random.Random) -> bytes:
    """Past the payload cap, or a valid object with one enormous string or number inside."""
    choice = rng.randrange(4)
    if choice == 0:
        return payload + b" " * HUGE_BYTES
    doc = _as_object(payload)
    if doc is None:
        return payload * (HUGE_BYTES // max(1, len(payload)) + 1)
    key = rng.choice(list(doc)) if doc else "x"
    if choice == 1:
        doc[key] = "A" * rng.randint(1_000, 200_000)
    elif choice == 2:
        return _replace_value(payload, doc, key, "9" * rng.randint(4_400, 20_000))  # past int parse limits
    else:
        doc[key] = list(range(rng.randint(1_000, 20_000)))
    return json.dumps(doc).encode()


def deep_nesting(payload: bytes, rng: random.Random) -> bytes:
    # Mostly moderate depths (cheap to send); now and then far past any recursion limit.
    depth = DEEP if rng.random() < 0.05 else rng.choice((100, 1_000, 2_000))
    opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
    inner = payload if rng.random() < 0.5 else b"1"
    doc = _as_object(payload)
    if doc and rng.random() < 0.5:
        # Deep inside an otherwise valid message, under a field the profile reads.
        key = rng.choice(list(doc))
        return _replace_value(payload, doc, key, (opener * depth + b"1" + closer * depth).decode())
    return opener * depth + inner + closer * depth


def wrong_encoding(payload: bytes, rng: random.Random) -> bytes:
    text = payload.decode("utf-8", errors="replace")
    if rng.random() < 0.5:
        text = text.replace('"', '"\u00e9\u4e2d', 1)  # something non-ASCII to encode badly
    codec = rng.choice(("utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig", "shift_jis"))
    return text.encode(codec, errors="replace")


def non_finite(payload: bytes, rng: random.Random) -> bytes:
    doc = _as_object(payload)
    token = rng.choice(("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "nan", "inf"))
    if not doc:
        return token.encode()
    leaf = rng.choice(list(doc))
    return _replace_value(payload, doc, leaf, token)


def duplicate_keys(payload: bytes, rng: random.Random) -> bytes:
    doc = _as_object(payload)
    if not doc:
        return b'{"a": 1, "a": "one", "a": null}'
    key = rng.choice(list(doc))
    extra = json.dumps(key) + ": " + json.dumps(rng.choice((None, "x", [], {}, -1, True, 1e308)))
    body = payload.strip()
    # Before and after the original: last-wins and first-wins parsers both see a conflict.
    return b"{" + extra.encode() + b", " + body[1:-1] + b", " + extra.encode() + b"}"


def swap_types(payload: bytes, rng: random.Random) -> bytes:
    doc = _as_object(payload)
    if not doc:
        return json.dumps(rng.choice((None, [], "", 0, True))).encode()
    for key in rng.sample(list(doc), k=min(len(doc), rng.randint(1, 3))):
        doc[key] = rng.choice((None, "", "1", [], {}, 0, -1, 2**63, -(2**63) - 1, 1.5e308, True, [doc.get(key)], {"v": doc.get(key)}))
    return json.dumps(doc).encode()


def garbage(payload: bytes, rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 7, 64, 4096)))


MUTATORS: dict[str, Mutator] = {
    "truncate": truncate,
    "bit_flips": bit_flips,
    "huge": huge,
    "deep_nesting": deep_nesting,
    "wrong_encoding": wrong_encoding,
    "non_finite": non_finite,
    "duplicate_keys": duplicate_keys,
    "swap_types": swap_types,
    "garbage": garbage,
}


def _as_object(payload: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _replace_value(payload: bytes, doc: dict[str, Any], key: str, raw_json: str) -> bytes:
    """The object with `key`'s value replaced by a raw JSON token (NaN, a 20k-digit number...)."""
    marker = "\u0000fuzz\u0000"
    doc = dict(doc)
    doc[key] = marker
    return json.dumps(doc).replace(json.dumps(marker), raw_json).encode()


# -- seeded corpus (the benchmark's 100k) -----------------------------------------------------
class FuzzCorpus:
    """Mutated samples, random JSON and hostile topics, reproducible from the seed."""

    def __init__(self, seed: int, surfaces: frozenset[Surface] | None = None) -> None:
        self._rng = random.Random(seed)
        samples = all_samples()
        self._samples = [s for s in samples if surfaces is None or s.surface in surfaces]
        if not self._samples:
            raise ValueError("no samples for these surfaces")

    def messages(self, count: int) -> Iterator[FuzzMessage]:
        rng = self._rng
        names = list(MUTATORS)
        for _ in range(count):
            sample = rng.choice(self._samples)
            roll = rng.random()
            if roll < 0.08:
                yield FuzzMessage(sample.surface, sample.topic, sample.payload, "original")
            elif roll < 0.18:
                yield FuzzMessage(sample.surface, sample.topic, json.dumps(random_json(rng)).encode(), "random_json")
            else:
                name = rng.choice(names)
                if name == "huge" and rng.random() < 0.8:
                    name = "swap_types"  # huge payloads are slow to send; keep them a minority
                yield FuzzMessage(sample.surface, sample.topic, MUTATORS[name](sample.payload, rng), name)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.choice((0, -1, 2**31, 2**64, rng.randint(-1000, 1000)))
    if kind == 3:
        return rng.choice((0.0, -0.0, 1e-300, 1e300, rng.uniform(-1e6, 1e6)))
    if kind == 4:
        return "".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0x2FFF)))) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ("occupancy", "battery", "PN532", "UID", "AM2301", "customer_id", "purposes", "status", "text", "siteId", "id")
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


# -- hypothesis strategies --------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)


@st.composite
def mutated_sample(draw: st.DrawFn, surfaces: tuple[Surface, ...] = tuple(Surface)) -> FuzzMessage:
    samples = [s for s in all_samples() if s.surface in surfaces]
    sample = draw(st.sampled_from(samples))
    name = draw(st.sampled_from(sorted(MUTATORS)))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    return FuzzMessage(sample.surface, sample.topic, MUTATORS[name](sample.payload, rng), name)


@st.composite
def structured_for_sample(draw: st.DrawFn, surfaces: tuple[Surface, ...] = tuple(Surface)) -> FuzzMessage:
    """A sample's JSON object with hypothesis-chosen values in its fields (the right keys, any values)."""
    samples = [s for s in all_samples() if s.surface in surfaces and _as_object(s.payload)]
    sample = draw(st.sampled_from(samples))
    doc = _as_object(sample.payload) or {}
    for key in draw(st.lists(st.sampled_from(sorted(doc)), max_size=len(doc), unique=True)):
        doc[key] = draw(json_values)
    return FuzzMessage(sample.surface, sample.topic, json.dumps(doc).encode(), "structured")


@st.composite
def raw_for_sample(draw: st.DrawFn, surfaces: tuple[Surface, ...] = tuple(Surface)) -> FuzzMessage:
    """Any bytes or any JSON at all on a sample's topic."""
    sample = draw(st.sampled_from([s for s in all_samples() if s.surface in surfaces]))
    payload = draw(st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode()) | st.text().map(str.encode))
    return FuzzMessage(sample.surface, sample.topic, payload, "raw")


def fuzz_message(surfaces: tuple[Surface, ...] = tuple(Surface)) -> st.SearchStrategy[FuzzMessage]:
    return st.one_of(mutated_sample(surfaces), structured_for_sample(surfaces), raw_for_sample(surfaces))


def wav_chunk() -> st.SearchStrategy[bytes]:
    """audioFrame payloads: valid WAV headers with odd formats, or mutated/raw bytes."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        channels = draw(st.sampled_from((0, 1, 2, 7, 65535)))
        width = draw(st.sampled_from((0, 1, 2, 3, 4)))
        rate = draw(st.sampled_from((0, 1, 8000, 16000, 44100, 2**32 - 1)))
        data = draw(st.binary(max_size=2048))
        declared = draw(st.sampled_from((len(data), 0, 2**32 - 1)))
        byte_rate = (rate * max(channels, 1) * max(width, 1)) & 0xFFFFFFFF
        fmt = struct.pack("<HHIIHH", 1, channels, rate, byte_rate, (max(channels, 1) * width) & 0xFFFF, width * 8)
        body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", declared) + data
        return b"RIFF" + struct.pack("<I", len(body)) + body

    return build() | st.binary(max_size=1024)


def audio_frame(site: str = "kiosk1") -> st.SearchStrategy[FuzzMessage]:
    topic = f"hermes/audioServer/{site}/audioFrame"
    return wav_chunk().map(lambda b: FuzzMessage(Surface.AUDIO, topic, b, "wav"))


def draw_examples(strategy: st.SearchStrategy[Any], count: int, seed: int | None = None) -> list[Any]:
    """`count` examples of a strategy, reproducibly, for a test that sends them all to one running
    gateway (a gateway per example would be far too slow). Without `seed` the draw is
    derandomized (the same examples every run); with one, each seed gives other examples, which
    is how long runs draw in chunks (see `schema_fuzz.draw_in_chunks`)."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=seed is None,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # nothing fails inside `collect`: nothing to replay or shrink
    )
    @given(strategy)
    def collect(example: Any) -> None:
        found.append(example)

    (collect if seed is None else hypothesis_seed(seed)(collect))()
    return found


# -- the admin HTTP API -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str
    path: str  # already percent-encoded where it must be
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


API_ROUTES = (
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.yaml"), ("GET", "/api/status"),
    ("GET", "/api/devices"), ("GET", "/api/dead-letters"), ("GET", "/api/consents"), ("GET", "/api/rules"),
    ("POST", "/api/rules/reload"), ("GET", "/api/customers/{id}"), ("DELETE", "/api/customers/{id}"),
    ("GET", "/"), ("POST", "/login"), ("POST", "/logout"),
)
API_QUERY_KEYS = ("limit", "before", "reason", "offset", "customer_id", "purpose", "next", "x")
_odd_numbers = st.sampled_from(("-1", "0", "1", "1000001", "1e9", "NaN", "inf", "9" * 400, "0x10", " 5", "", "1.5"))


def api_request(token: str) -> st.SearchStrategy[ApiRequest]:
    """Requests to the admin API: real routes with hostile path segments, query values, headers
    and bodies, some with the right token (so validation is reached), some without."""
    from urllib.parse import quote

    segment = st.text(min_size=0, max_size=300).map(lambda t: quote(t, safe="")) | st.sampled_from(
        ("card:94D8FC5F", "%00", "..%2F..%2Fetc%2Fpasswd", "%FF%FE", "a" * 5000, "%2F", "%20")
    )
    value = _odd_numbers | st.text(max_size=60)
    auth = st.sampled_from(("good", "good", "good", "none", "wrong", "huge", "basic"))

    @st.composite
    def build(draw: st.DrawFn) -> ApiRequest:
        method, template = draw(st.sampled_from(API_ROUTES))
        if draw(st.integers(0, 9)) == 0:
            method = draw(st.sampled_from(("PUT", "PATCH", "OPTIONS", "HEAD", "DELETE", "POST")))
        path = template.replace("{id}", draw(segment))
        if draw(st.integers(0, 14)) == 0:
            path = "/" + draw(segment)  # a path that is no route at all
        query = tuple(draw(st.lists(st.tuples(st.sampled_from(API_QUERY_KEYS), value), max_size=4)))
        headers: list[tuple[str, str]] = []
        kind = draw(auth)
        if kind == "good":
            headers.append(("Authorization", f"Bearer {token}"))
        elif kind == "wrong":
            headers.append(("Authorization", f"Bearer {draw(st.text(alphabet='abcdef0123456789', max_size=64))}"))
        elif kind == "huge":
            headers.append(("Authorization", "Bearer " + "x" * 6000))
        elif kind == "basic":
            headers.append(("Authorization", "Basic dXNlcjpwYXNz"))
        body = None
        if method in ("POST", "PUT", "PATCH", "DELETE") and draw(st.booleans()):
            body = draw(st.binary(max_size=256) | json_values.map(lambda v: json.dumps(v).encode()))
            headers.append(("Content-Type", draw(st.sampled_from(("application/json", "application/x-www-form-urlencoded", "text/plain")))))
        return ApiRequest(method, path, query, tuple(headers), body)

    return build()
