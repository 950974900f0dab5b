"""bench/tts.py's comparison of replies made ahead against main's way (every reply synthesised
as it is asked for), on the real Piper voice and the skills' own reply templates.

The replies: every English reply template of the configured skills and the voice part (read as
the gateway reads them, gateway/voice/reply_texts.py), each filled with sample slot values from the
shop's data (skills/data), each template equally likely. "short": one sentence; "long": more.
Two synthesisers take each reply in turn (round robin, so a shared machine's load falls on both
alike), neither with an ordinary reply cache (repeats would flatter both):
- "made_ahead": the phrasebook prepared first (as the gateway does at start) and used;
- "main": no phrasebook, nothing made ahead: the synthesiser as it is on main.
Per reply: first audio (request → first part ready), whole reply, whether the first part was a
cache hit, the silence a listener would hear inside the reply (`stall_ms`: each part played as
soon as it is ready and the part before it has finished), and when the listener has heard it all
(`heard_by_ms`, the same way). "templated": the replies with a slot (an opener, then the rest),
apart from the fixed ones, which are a whole hit; `--templated-only` draws only those.
"""

from __future__ import annotations

import random
import re
import string
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import yaml

from _common import ROOT, median, percentile

from gateway.tts.cache import ReplyCache
from gateway.tts.phrasebook import Phrasebook
from gateway.tts.piper import PiperEngine
from gateway.tts.prepare import prepare_replies
from gateway.tts.settings import TtsSettings
from gateway.tts.synthesiser import Synthesiser
from gateway.voice.reply_texts import all_reply_templates
from gateway.voice.settings import VoiceSettings

SITE = "bench-site"
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def templates() -> list[str]:
    """The English templates that are replies (not fragments joined into one: " to ", "none")."""
    found: list[str] = []
    for language, template in all_reply_templates(VoiceSettings().skills):
        template = " ".join(template.split())
        if language != "en" or template in found or not (template[:1].isupper() or template.startswith("{")):
            continue
        if template.rstrip().endswith((".", "!", "?", "}")) and (len(template.split()) >= 3 or template.endswith(".")):
            found.append(template)
    return found


def slot_values(rng: random.Random) -> dict[str, list[str]]:
    store = yaml.safe_load((ROOT / "skills/data/store.yaml").read_text(encoding="utf-8"))
    catalogue = yaml.safe_load((ROOT / "skills/data/catalogue.yaml").read_text(encoding="utf-8"))
    offers = [offer["text"]["en"] for offer in store["offers"]]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    return {
        "name": [p["names"]["en"][0].split(":")[0] for p in catalogue["products"]],
        "aisle": [str(n) for n in range(1, 13)],
        "day": ["Today"] + [f"On {day}" for day in days],
        "hours": sorted({h.replace("-", " to ") for h in store["opening_hours"].values() if h != "closed"}),
        "offer": offers,
        "offers": [" ".join(offers)],
        "attributes": ["", ", and a profile with favourite category"],
        "consents": ["personalisation granted", "none"],
        "names": ["favourite category"],
    }


def fill(template: str, values: dict[str, list[str]], rng: random.Random) -> str:
    filled: dict[str, Any] = {}
    for literal, name, _, _ in string.Formatter().parse(template):
        if not name or name in filled:
            continue
        if literal and literal[-1].isalnum():
            filled[name] = ""  # glued to a word: an optional fragment (", including your … points"), left out
        elif name in values:
            value = rng.choice(values[name])
            filled[name] = value.lower() if name == "day" and literal else value  # "We are closed on sunday."
        else:
            filled[name] = rng.randint(2, 1500)
    text = template.format(**filled)
    return text[:1].upper() + text[1:]


def length_of(text: str) -> str:
    return "long" if len(_SENTENCE_END.findall(text)) >= 2 else "short"


async def timed(synth: Synthesiser, text: str) -> dict[str, Any]:
    started = time.perf_counter()
    ready: list[float] = []
    durations: list[float] = []
    first_cached = False
    async with aclosing(synth.stream(text, SITE)) as parts:
        async for part in parts:
            if not ready:
                first_cached = part.cached
            ready.append(time.perf_counter() - started)
            durations.append(part.duration_s)
    stall, playing_until = 0.0, ready[0]
    for at, duration in zip(ready, durations, strict=True):
        stall += max(0.0, at - playing_until)
        playing_until = max(at, playing_until) + duration
    return {
        "first_ms": ready[0] * 1000, "whole_ms": ready[-1] * 1000, "cached": first_cached, "stall_ms": stall * 1000,
        "heard_ms": playing_until * 1000, "parts": len(ready),
    }


def summary(values: list[float]) -> dict[str, float | int]:
    return {"n": len(values), "p50": round(median(values), 1), "p95": round(percentile(values, 95), 1), "max": round(max(values), 1)}


def has_slots(template: str) -> bool:
    return any(name is not None for _, name, _, _ in string.Formatter().parse(template))


async def compare(model: Path, requests: int, seed: int = 18, templated_only: bool = False) -> dict[str, Any]:
    rng = random.Random(seed)
    values = slot_values(rng)
    pool = [t for t in templates() if has_slots(t) or not templated_only]
    chosen = rng.choices(pool, k=requests)
    replies = [fill(t, values, rng) for t in chosen]
    templated = {text for text, template in zip(replies, chosen, strict=True) if has_slots(template)}
    engine = PiperEngine(model)
    await engine.start()
    settings = TtsSettings()
    book = Phrasebook()  # as the voice part hands it over at start (REPLY_TEMPLATES)
    for language, template in all_reply_templates(VoiceSettings().skills):
        book.add_template(language, template)
    made_ahead = Synthesiser(settings, {"en": engine}, ReplyCache(0, 0, settings.prepared_max_bytes), lambda site: "en", book)
    main = Synthesiser(settings, {"en": engine}, ReplyCache(0, 0), lambda site: "en", Phrasebook())
    try:
        prepared = await prepare_replies(made_ahead, [settings.output_of(SITE)])
        results: dict[str, dict[str, list[dict[str, Any]]]] = {"made_ahead": {}, "main": {}}
        for warm in ("You will find tea in aisle 7.", "Goodbye and thank you."):  # unmeasured
            for synth in (made_ahead, main):
                await timed(synth, warm)
        missed: dict[str, int] = {}
        for text in replies:
            for name, synth in (("made_ahead", made_ahead), ("main", main)):
                measured = await timed(synth, text)
                results[name].setdefault(length_of(text), []).append(measured)
                if text in templated:  # the replies with a slot: an opener, then the rest
                    results[name].setdefault("templated", []).append(measured)
                if name == "made_ahead" and not measured["cached"]:
                    missed[text] = missed.get(text, 0) + 1
    finally:
        engine.close()
    report: dict[str, Any] = {
        "replies": requests,
        "templates": len(pool),
        "templated_replies": sum(text in templated for text in replies),
        "prepared": {
            "texts": prepared.texts, "entries": prepared.made, "bytes": prepared.bytes, "seconds": round(prepared.seconds, 1),
            "skipped_budget": prepared.skipped_budget, "failed": prepared.failed,
        },
        "first_audio_ms": {}, "whole_reply_ms": {}, "stall_ms": {}, "heard_by_ms": {}, "cache_hit_share": {},
        "first_audio_misses": sorted(missed),
    }
    for name, by_length in results.items():
        for length, rows in sorted(by_length.items()):
            kind = f"{length}/{name}"
            report["first_audio_ms"][kind] = summary([r["first_ms"] for r in rows])
            report["whole_reply_ms"][kind] = summary([r["whole_ms"] for r in rows])
            report["stall_ms"][kind] = summary([r["stall_ms"] for r in rows])
            report["heard_by_ms"][kind] = summary([r["heard_ms"] for r in rows])
            report["cache_hit_share"][kind] = round(sum(r["cached"] for r in rows) / len(rows), 3)
    return report
