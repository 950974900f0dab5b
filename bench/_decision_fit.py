"""Fitting and scoring the calibrated decision (bench/voice_decision.py's train, report and test
steps). numpy only: the gateway runs the model with a dot product, so nothing heavier is needed
to fit it either."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from _common import loop_time, median
from _voice_heldout import Score, render_items, split_of
from voice_decision import _model, decode, from_record, item_of

L2 = 1.0  # ridge on the standardised weights: ~1000 candidates, 12 features
FOLDS = 5
BLIND_SPLITS = ("blind2", "blind3")  # bench/voice_decision.py BLIND


def load_dump(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _right(record: dict[str, Any], match: Any) -> bool:
    if record["intent"] is None or match.intent != record["intent"]:
        return False
    slots = {s.name: str(s.value) for s in match.slots}
    return all(slots.get(k) == v for k, v in record["slots"].items())


def design(records: Iterable[dict[str, Any]], features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """One row per candidate reading of each utterance, labelled 1 where it is what was said (with
    the open pass's key-word readings where the features name them)."""
    from gateway.voice.engines.decision import KEYWORD_FEATURE, candidates
    from gateway.voice.settings import GuardSettings

    matcher, skips = _model().matcher, GuardSettings().max_skips
    rows, labels = [], []
    for record in records:
        for candidate in candidates(matcher, from_record(record), None, skips, KEYWORD_FEATURE in features):
            rows.append([candidate.features[f] for f in features])
            labels.append(float(_right(record, candidate.match)))
    return np.array(rows, dtype=float).reshape(-1, len(features)), np.array(labels)


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Logistic regression by Newton's method on standardised features: (means, scales, weights,
    intercept). The intercept is not penalised."""
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales < 1e-6] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - means) / scales])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        gradient = z.T @ (p - y) + penalty * beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return means, scales, beta[1:], float(beta[0])


def features_of(keywords: bool) -> tuple[str, ...]:
    """The features a model weighs: all, or all but the open pass's key-word readings."""
    from gateway.voice.engines.decision import FEATURES

    return FEATURES if keywords else tuple(f for f in FEATURES if not f.startswith("keywords"))


def model_of(records: list[dict[str, Any]], features: tuple[str, ...], recipe: str = "-") -> Any:
    from gateway.voice.engines.decision import DecisionModel

    x, y = design(records, features)
    means, scales, weights, intercept = fit(x, y)
    counts: dict[str, int] = {}
    for r in records:
        counts[r["split"]] = counts.get(r["split"], 0) + 1
    return DecisionModel(
        version=1, recipe=recipe, features=features, means=tuple(round(float(v), 6) for v in means),
        scales=tuple(round(float(v), 6) for v in scales), weights=tuple(round(float(v), 6) for v in weights),
        intercept=round(intercept, 6), trained_on=counts,
    )


def score(
    records: Iterable[dict[str, Any]], decision: Any, on_failure: Callable[[dict[str, Any], Any, bool], None] | None = None,
    guard: Any = None, on_asked: Callable[[dict[str, Any], Any], None] | None = None,
) -> Score:
    """The gateway's outcome for each utterance: the reading (the model's, or the hand-set
    factors' where `decision` is None), then the effect guard (`guard`: GuardSettings, the
    defaults where None). `on_asked` gets (record, reading) of each utterance asked back."""
    from gateway.voice.effects import EffectGuard
    from gateway.voice.settings import GuardSettings
    from gateway.voice.understand import match_transcript

    model, guard = _model(), guard or GuardSettings()
    result = Score()
    for record in records:
        match = match_transcript(model.matcher, from_record(record), None, 0.0, guard.passes(), decision)
        acted, ask = EffectGuard(guard).check(record["id"], "en", match, model.matcher)
        result.add(item_of(record), acted, ask is not None, model.matcher.effectful)
        if on_failure is not None and (acted.intent if acted else None) != record["intent"]:
            on_failure(record, match, ask is not None)
        if on_asked is not None and ask is not None:
            on_asked(record, match)
    return result


def ceiling(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What no decision over these passes can beat: the share of in-domain utterances for which
    any reading either pass gave (the grammar pass's sentence, the open pass's fuzzy match, its
    key-word reading; the open pass where the gateway runs it) is the said intent with its slots,
    and the accuracy a perfect chooser would reach with every off-topic utterance rejected. An
    upper bound: an effectful intent one pass heard is asked back, not acted on."""
    from gateway.voice.engines.decision import candidates
    from gateway.voice.settings import GuardSettings

    matcher, skips = _model().matcher, GuardSettings().max_skips
    files = in_domain = reachable = sentence_right = 0
    for record in records:
        files += 1
        if record["intent"] is None:
            continue
        in_domain += 1
        readings = [c.match for c in candidates(matcher, from_record(record), None, skips, True)]
        reachable += any(_right(record, match) for match in readings)
        grammar = matcher.match(record["text"]) if record["text"] and record["confidence"] > 0 else None
        sentence_right += grammar is not None and _right(record, grammar)
    off_topic = files - in_domain
    return {
        "files": files, "in_domain": in_domain,
        "in_domain_any_reading_right": round(reachable / in_domain, 4) if in_domain else None,
        "in_domain_grammar_sentence_right": round(sentence_right / in_domain, 4) if in_domain else None,
        "ceiling_accuracy": round((reachable + off_topic) / files, 4) if files else None,
    }


def ceilings(dump: Path) -> None:
    """The ceiling per split of a dump (tuning, blind, dev: never the test split's items)."""
    records = load_dump(dump)
    for split in sorted({r["split"] for r in records}):
        print(json.dumps({"split": split, **ceiling(r for r in records if r["split"] == split)}))
    print(json.dumps({"split": "all", **ceiling(records), **loop_time()}))


def _fold(utterance_id: str) -> int:
    """Folds by utterance (not file): the same sentence in another voice stays in its fold."""
    return int(hashlib.sha256(f"fold:{utterance_id}".encode()).hexdigest()[:8], 16) % FOLDS


def cross_validated(records: list[dict[str, Any]], features: tuple[str, ...], splits: tuple[str, ...] = ("dev",)) -> Score:
    """Figures on `splits` of models fitted without the scored fold (every other record)."""
    total = Score()
    for fold in range(FOLDS):
        held = [r for r in records if r["split"] in splits and _fold(r["id"]) == fold]
        model = model_of([r for r in records if not (r["split"] in splits and _fold(r["id"]) == fold)], features)
        total.merge(score(held, model))
    return total


def train(dump: Path, out: Path, keywords: bool) -> None:
    records, features = load_dump(dump), features_of(keywords)
    recipe = (
        f"bench/voice_decision.py train --dump <dump> on {datetime.date.today().isoformat()}: logistic regression (numpy, "
        f"Newton, L2 {L2} on standardised features, intercept free) over every candidate reading (grammar pass, open "
        "pass" + (", the open pass read by the key words" if keywords else "") + ") of the tuning set's English audio (tests/data/voice_tuning, rendered by render.py's plan), the blind tuning "
        "corpora's (blind2, blind3; each decoded with an open pass that learnt only the other's wordings) and the held-out "
        "dev split's (tests/data/voice_heldout, 40 %); label: the reading is the said intent with its slots. The open "
        "pass is kept only where the gateway runs it (defaults). The test split is not used."
    )
    model = model_of(records, features, recipe)
    dev = [r for r in records if r["split"] == "dev"]
    before, after, cv = score(dev, None), score(dev, model), cross_validated(records, features)
    blind = cross_validated(records, features, BLIND_SPLITS).figures()
    figures = {
        "dev_accuracy_before": before.figures()["heldout_accuracy"], "dev_accuracy": after.figures()["heldout_accuracy"],
        "dev_accuracy_cross_validated": cv.figures()["heldout_accuracy"], "dev_false_accept_rate": after.figures()["false_accept_rate"],
        "dev_effectful_wrong": after.effectful_wrong, "blind_accuracy_cross_validated": blind["heldout_accuracy"],
        "blind_false_accept_rate_cross_validated": blind["false_accept_rate"], "blind_effectful_wrong_cross_validated": blind["effectful_wrong"],
    }
    data = model.model_copy(update={"figures": figures}).model_dump(mode="json")
    header = "# The calibrated decision over PocketSphinx's passes (gateway/voice/engines/decision.py).\n# Generated: see recipe.\n"
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    print(json.dumps({"model": str(out), **figures}))


def report(dump: Path, model_path: Path, failures: bool) -> None:
    from gateway.voice.engines.decision import load_decision

    records, decision = load_dump(dump), load_decision(model_path)
    lines: list[str] = []

    def note(record: dict[str, Any], match: Any, asked: bool) -> None:
        heard = f"g={record['text']!r}@{record['gap']} o={(record['open'] or {}).get('text')!r}@{(record['open'] or {}).get('gap')}"
        lines.append(f"{record['split']} {record['wav']}: {record['intent']} {heard} -> {match.intent if match else None}"
                     f"@{match.confidence if match else None} ask={asked}")

    for split in ("tuning", *BLIND_SPLITS, "dev"):
        part = [r for r in records if r["split"] == split]
        print(split, "before", json.dumps(score(part, None).figures()))
        print(split, "after", json.dumps(score(part, decision, note if failures else None).figures()))
    print("dev cross-validated", json.dumps(cross_validated(records, decision.features).figures()))
    print("blind cross-validated", json.dumps(cross_validated(records, decision.features, BLIND_SPLITS).figures()))
    print("all cross-validated", json.dumps(cross_validated(records, decision.features, ("tuning", *BLIND_SPLITS, "dev")).figures()))
    print("\n".join(lines))


def test_split(cache: Path, model_path: Path, baseline_path: Path | None = None) -> None:
    """The test split, decoded once with the gateway's defaults; before (hand-set factors, and the
    `baseline_path` model where given) and after from the same transcripts. Aggregates only."""
    from gateway.voice.engines.decision import load_decision
    from gateway.voice.settings import GuardSettings
    from voice_decision import to_record

    decision = load_decision(model_path)
    baseline = load_decision(baseline_path) if baseline_path is not None else None
    started = time.perf_counter()
    records = [to_record(item, transcript, "test") for item, transcript in decode((i for i in render_items(cache) if split_of(i.id) == "test"), open_always=False)]
    decode_s = time.perf_counter() - started
    no_floor = GuardSettings(effectful_one_pass_ask_floor=None)
    asked: list[tuple[dict[str, Any], Any]] = []
    after = score(records, decision, on_asked=lambda record, match: asked.append((record, match)))
    print(json.dumps({
        "test_before": score(records, None).figures(), "test_after": after.figures(),
        "test_after_without_one_pass_floor": score(records, decision, guard=no_floor).figures(),
        "off_topic_asked_back": sum(r["intent"] is None for r, _ in asked), "test_ceiling": ceiling(records),
        **({"test_baseline_model": score(records, baseline).figures()} if baseline is not None else {}),
        "decode_s": round(decode_s, 1), **loop_time(),
    }))


def cost(dump: Path, repeats: int = 3) -> None:
    """What reading the open pass by the key words adds to a turn: candidates() over the dump's
    utterances (the gateway's rule for the open pass) without and with it, and match_text alone
    on the open pass's texts; CPU time per utterance, the median of `repeats` runs, in the same
    run."""
    from gateway.voice.engines.decision import candidates
    from gateway.voice.settings import GuardSettings

    matcher, skips = _model().matcher, GuardSettings().max_skips
    transcripts = [from_record(r) for r in load_dump(dump)]
    texts = [t.fallback.text for t in transcripts if t.fallback is not None and t.fallback.text]

    def per_item_ms(run: Callable[[], object], n: int) -> float:
        runs = []
        for _ in range(repeats):
            started = time.process_time()
            run()
            runs.append((time.process_time() - started) / max(n, 1) * 1000)
        return round(median(runs), 4)

    result = {
        "utterances": len(transcripts), "open_pass_texts": len(texts),
        "candidates_ms": per_item_ms(lambda: [candidates(matcher, t, None, skips) for t in transcripts], len(transcripts)),
        "candidates_keywords_ms": per_item_ms(lambda: [candidates(matcher, t, None, skips, True) for t in transcripts], len(transcripts)),
        "match_text_ms": per_item_ms(lambda: [matcher.match_text(x, None, skips) for x in texts], len(texts)),
        "match_strict_ms": per_item_ms(lambda: [matcher.match(x, None, skips) for x in texts], len(texts)),
    }
    print(json.dumps({**result, **loop_time()}))


FLOORS = (None, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def floors(dump: Path, model_path: Path) -> None:
    """The ask-back floor for effectful readings only one pass heard (voice.guard.
    effectful_one_pass_ask_floor), on the tuning set and the dev split only (the dev split also
    with the cross-validated models): per floor, the figures, and what was asked back: right
    effectful intents, off-topic utterances, other requests."""
    from gateway.voice.engines.decision import load_decision
    from gateway.voice.settings import GuardSettings

    records, decision = load_dump(dump), load_decision(model_path)
    folds = [(model_of([r for r in records if not (r["split"] == "dev" and _fold(r["id"]) == f)], decision.features),
              [r for r in records if r["split"] == "dev" and _fold(r["id"]) == f]) for f in range(FOLDS)]
    for floor in FLOORS:
        guard = GuardSettings(effectful_one_pass_ask_floor=floor)
        row: dict[str, Any] = {"floor": floor}
        for name, parts in (("tuning", [(decision, [r for r in records if r["split"] == "tuning"])]),
                            ("dev", [(decision, [r for r in records if r["split"] == "dev"])]), ("dev_cv", folds)):
            total, asked = Score(), []
            for model, part in parts:
                total.merge(score(part, model, guard=guard, on_asked=lambda record, match: asked.append((record, match))))
            figures = total.figures()
            row[name] = {
                "accuracy": figures["heldout_accuracy"], "false_accepts": figures["false_accept_rate"],
                "effectful_wrong": figures["effectful_wrong"], "ask_back": figures["heldout_ask_back_rate"],
                "asked_right": sum(m.intent == r["intent"] for r, m in asked),
                "asked_off_topic": sum(r["intent"] is None for r, _ in asked),
                "asked_other": sum(r["intent"] is not None and m.intent != r["intent"] for r, m in asked),
                "off_topic": total.off_topic,
            }
        print(json.dumps(row))
