"""Train the calibrated decision over PocketSphinx's two passes (gateway/voice/engines/decision.py)
and measure it. Recipe, step by step (each step reuses the previous one's output):

  render   the tuning set's English audio (tests/data/voice_tuning, the same voices, speeds and
           noises as the held-out corpus: render.py's plan) into a cache directory (the committed
           test utterances, tests/data/audio, are tuning data too and are read where they are);
  dump     decode the tuning audio, the blind tuning corpora's (blind2, blind3: each with an open
           pass that learnt only the other's wordings) and the held-out *dev* split's audio once, through the
           endpointer and the recogniser with the open pass on every utterance, and keep what each
           pass heard (text, phone-loop gap, SNR) as JSON lines; the gateway's own rule for when
           the open pass runs is replayed from them, so the figures are the gateway's;
  train    fit the logistic model (numpy, L2, Newton steps) on the candidates of both sets and
           write its coefficients with this recipe to gateway/voice/engines/decision.yaml;
  report   dev figures before (the hand-set pass factors) and after (the model), each also
           5-fold cross-validated over the dev split (the model refitted without the fold);
  test     the held-out *test* split decoded once, before and after in the same run: aggregate
           figures only (its items are never printed, dumped or read one by one).

  nice -n 19 .venv/bin/python bench/voice_decision.py render --tuning-cache /tmp/tg-tuning
  nice -n 19 .venv/bin/python bench/voice_decision.py dump --tuning-cache /tmp/tg-tuning \
      --heldout-cache /tmp/touchgate-voice-heldout --blind-cache /tmp/tg-blind --out /tmp/tg-decision.jsonl
  .venv/bin/python bench/voice_decision.py train --dump /tmp/tg-decision.jsonl
  .venv/bin/python bench/voice_decision.py report --dump /tmp/tg-decision.jsonl
  nice -n 19 .venv/bin/python bench/voice_decision.py test --heldout-cache /tmp/touchgate-voice-heldout

With `train --keywords` the model also weighs the open pass's words read by the key-word fallback
(Matcher.match_text: features keywords, keywords_agree); `test --baseline-model` scores another
model on the same test transcripts; `cost --dump` times the reading without and with key words;
`floors --dump` weighs the ask-back floor for effectful one-pass readings on tuning + dev only;
`ceiling --dump` gives, per split, the share of in-domain utterances some reading of either pass
got right: what no decision over these passes can beat (`test` prints it for the test split too,
as `test_ceiling`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import loop_time  # noqa: E402
from _voice_heldout import TUNING, Item, render_items, renderer, split_of, transcribe  # noqa: E402

MODEL_FILE = Path(__file__).resolve().parents[1] / "gateway" / "voice" / "engines" / "decision.yaml"


def render_tuning(out_dir: Path, per_cell: int = 6) -> list[Item]:
    """The tuning set's English audio, as the held-out corpus's (its own cache: the ids overlap)."""
    render = renderer()
    corpus = render.load_corpus(TUNING / "utterances.yaml")
    engine = render.Renderer(out_dir, corpus)
    items = []
    for spec in render.plan(corpus, per_cell=per_cell, langs=("en",)):
        item, _ = engine.render(spec)
        items.append(Item(item.id, item.lang, item.text, item.intent, dict(item.slots), out_dir / item.path))
    return items


# The blind tuning corpora, each rendered and decoded with an open pass that learnt only the
# *other* one's wordings (skills/data/wordings.en.txt is both): audio whose wording its model never
# saw, as a customer's. About half of what they say is no sentence of the skills, as with customers
# (the dev split's mostly are sentences: it was read to write them), so the open pass's key-word
# reading is fitted where it matters.
BLIND = {"blind2": "blind3.yaml", "blind3": "blind2.yaml"}


def blind_sets(cache: Path, tmp: Path) -> list[tuple[str, list[Item], Path]]:
    """(split, its English audio, the wordings file its open pass learns) per blind corpus."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from gen_open_wordings import write

    sets = []
    for split, other in BLIND.items():
        wordings = tmp / f"wordings-{split}.txt"
        write(wordings, "en", (other,))
        sets.append((split, render_items(cache / split, corpus_path=TUNING / f"{split}.yaml"), wordings))
    return sets


def committed_items() -> list[Item]:
    """The committed English test utterances (tests/data/audio/utterances.tsv): tuning data too,
    in another speed and padding than the rendered sets (espeak at 150 wpm, 0.2 s / 0.8 s)."""
    audio = TUNING.parents[1] / "data" / "audio"
    items = []
    for line in (audio / "utterances.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, voice, text, intent, *rest = line.split("\t") + [""]
        if not voice.startswith("en"):
            continue
        slots = dict(pair.split("=", 1) for pair in rest[0].split(",") if pair) if rest and rest[0] else {}
        items.append(Item(name, "en", text, None if intent == "-" else intent, slots, audio / f"{name}.wav"))
    return items


def decode(items: Iterable[Item], open_always: bool, wordings: Path | None = None) -> Iterator[tuple[Item, Any]]:
    """Each item's transcript through the gateway's endpointer and recogniser (bench/_voice_heldout);
    with `wordings`, the open pass learns those instead of the shipped ones."""
    from gateway.voice.engines.factory import load_engine
    from gateway.voice.settings import VoiceSettings
    from gateway.voice.skillset import build_intent_model

    settings = VoiceSettings()
    # The passes only: the decision is replayed from what they heard (bench/_decision_fit.py).
    update: dict[str, Any] = {"open_pass_always": open_always, "decision_model": None}
    if wordings is not None:
        update["open_wordings"] = wordings
    ps = settings.pocketsphinx.model_copy(update=update)
    settings = settings.model_copy(update={"pocketsphinx": ps})
    model, _ = build_intent_model(settings, "en")
    engine = load_engine(settings, model)
    for item in items:
        yield item, transcribe(item, engine, settings)


def to_record(item: Item, transcript: Any, split: str) -> dict[str, Any]:
    fallback = transcript.fallback
    return {
        "id": item.id, "split": split, "wav": item.wav.name if item.wav else None, "intent": item.intent, "slots": item.slots,
        "text": transcript.text, "confidence": transcript.confidence, "gap": transcript.phone_gap, "snr": transcript.snr_db,
        "audio_s": transcript.audio_s, "decode_s": transcript.decode_s,
        "open": None if fallback is None else {"text": fallback.text, "confidence": fallback.confidence, "gap": fallback.phone_gap},
    }


def from_record(record: dict[str, Any], production: bool = True) -> Any:
    """The transcript the gateway would have had: with `production`, the open pass kept only where
    the gateway's rule runs it (engines/pocketsphinx_engine.open_pass_wanted with the defaults)."""
    from gateway.voice.engines.base import Transcript

    open_ = record["open"]
    fallback = None
    if open_ is not None:
        fallback = Transcript(open_["text"], open_["confidence"], record["audio_s"], 0.0, dictation=True, phone_gap=open_["gap"])
    if production and fallback is not None and not _open_pass_wanted(record["text"] if record["confidence"] > 0 else "", record["confidence"]):
        fallback = None
    return Transcript(
        record["text"], record["confidence"], record["audio_s"], record["decode_s"], fallback=fallback, grammar_pass=True,
        phone_gap=record["gap"], snr_db=record["snr"],
    )


def _open_pass_wanted(sentence: str, confidence: float) -> bool:
    from gateway.voice.engines.factory import needs_agreement
    from gateway.voice.settings import PocketSphinxSettings

    settings = PocketSphinxSettings()
    if settings.open_pass_always or not sentence or confidence < settings.open_pass_below:
        return True
    return needs_agreement(_model().matcher)(sentence)


_MODEL: list[Any] = []


def _model() -> Any:
    if not _MODEL:
        from gateway.voice.settings import VoiceSettings
        from gateway.voice.skillset import build_intent_model

        _MODEL.append(build_intent_model(VoiceSettings(), "en")[0])
    return _MODEL[0]


def item_of(record: dict[str, Any]) -> Item:
    return Item(record["id"], "en", "", record["intent"], record["slots"])


def main() -> None:
    from _decision_fit import ceilings, cost, floors, report, test_split, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("render")
    p.add_argument("--tuning-cache", type=Path, required=True)
    p = sub.add_parser("dump")
    p.add_argument("--tuning-cache", type=Path, required=True)
    p.add_argument("--heldout-cache", type=Path, required=True)
    p.add_argument("--blind-cache", type=Path, required=True, help="the blind tuning corpora's rendered audio (reused)")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("train")
    p.add_argument("--dump", type=Path, required=True)
    p.add_argument("--model", type=Path, default=MODEL_FILE)
    p.add_argument("--keywords", action="store_true", help="also read the open pass's words by the key words (features keywords*)")
    p = sub.add_parser("report")
    p.add_argument("--dump", type=Path, required=True)
    p.add_argument("--model", type=Path, default=MODEL_FILE)
    p.add_argument("--failures", action="store_true", help="list the dev split's and tuning set's failures (never the test split's)")
    p = sub.add_parser("test")
    p.add_argument("--heldout-cache", type=Path, required=True)
    p.add_argument("--model", type=Path, default=MODEL_FILE)
    p.add_argument("--baseline-model", type=Path, help="another model scored on the same transcripts (test_baseline_model)")
    p = sub.add_parser("floors", help="the one-pass effectful ask-back floor on the tuning set and the dev split")
    p.add_argument("--dump", type=Path, required=True)
    p.add_argument("--model", type=Path, default=MODEL_FILE)
    p = sub.add_parser("cost", help="CPU per utterance of the reading, without and with the open pass's key words")
    p.add_argument("--dump", type=Path, required=True)
    p = sub.add_parser("ceiling", help="per split: in-domain utterances some reading of either pass got right (what no decision can beat)")
    p.add_argument("--dump", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "render":
        print(json.dumps({"tuning_wavs": len(render_tuning(args.tuning_cache))}))
    elif args.step == "dump":
        started = time.perf_counter()
        tuning = render_tuning(args.tuning_cache)
        dev = [i for i in render_items(args.heldout_cache) if split_of(i.id) == "dev"]
        dumped = 0
        with tempfile.TemporaryDirectory(prefix="touchgate-wordings-") as tmp, args.out.open("w", encoding="utf-8") as out:
            sets = [("tuning", tuning + committed_items(), None), ("dev", dev, None), *blind_sets(args.blind_cache, Path(tmp))]
            for split, items, wordings in sets:
                for item, transcript in decode(items, open_always=True, wordings=wordings):
                    out.write(json.dumps(to_record(item, transcript, split)) + "\n")
                    out.flush()
                    dumped += 1
        print(json.dumps({"dumped": dumped, "seconds": round(time.perf_counter() - started, 1), **loop_time()}))
    elif args.step == "train":
        train(args.dump, args.model, args.keywords)
    elif args.step == "report":
        report(args.dump, args.model, args.failures)
    elif args.step == "floors":
        floors(args.dump, args.model)
    elif args.step == "cost":
        cost(args.dump)
    elif args.step == "ceiling":
        ceilings(args.dump)
    elif args.step == "test":
        test_split(args.heldout_cache, args.model, args.baseline_model)


if __name__ == "__main__":
    main()
