"""`touchgate rules list` and `touchgate rules test EVENTS.jsonl`."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from gateway.progress import progress
from gateway.rules.actions import Delay, Emit, Output, ProfileWrite, Publish
from gateway.rules.loader import load_rules
from gateway.rules.replay import replay
from gateway.rules.service import engine_config
from gateway.commandline import add_config_argument, settings_or_exit


def register(subparsers: Any) -> None:
    rules = subparsers.add_parser("rules", help="list the rules, or replay events through them")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    listing = sub.add_parser("list", help="the loaded rules: trigger, purpose, priority, file")
    add_config_argument(listing)
    listing.set_defaults(handler=cmd_list)
    test = sub.add_parser("test", help="replay a JSONL file of events: which rules fire, and why the others do not")
    add_config_argument(test)
    test.add_argument("events", type=Path, help="JSONL: events, and profile/consent/intent/tick lines")
    test.add_argument("--json", action="store_true", help="one JSON object per decision instead of text")
    test.add_argument("--quiet", action="store_true", help="only the summary")
    test.set_defaults(handler=cmd_test)


def _loaded(args: argparse.Namespace) -> Any:
    settings = settings_or_exit(args.config)
    result = load_rules(settings.rules)
    if result.rules is None:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        return settings, None
    return settings, result.rules


def cmd_list(args: argparse.Namespace) -> int:
    _, rules = _loaded(args)
    if rules is None:
        return 1
    for rule in sorted(rules.rules.values(), key=lambda r: (-r.rule.priority, r.id)):
        spec = rule.rule
        t = spec.trigger
        trigger = f"intent {t.intent}" if t.intent else f"{t.kind}" + "".join(
            f" {k}={v}" for k, v in (("site", t.site), ("device", t.device), ("zone", t.zone), ("topic", t.topic)) if v
        )
        if t.for_:
            trigger += f" for {t.for_:g}s"
        flags = [] if spec.enabled else ["disabled"]
        print(
            f"{spec.id:<28} prio {spec.priority:<4} {'purpose ' + spec.purpose if spec.purpose else 'anonymous':<26}"
            f" on {trigger:<40} {rules.sources.get(spec.id, '')} {' '.join(flags)}".rstrip()
        )
    print(f"{len(rules)} rule(s)", file=sys.stderr)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    settings, rules = _loaded(args)
    if rules is None:
        return 1
    try:
        lines = args.events.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.events}: cannot read: {exc}", file=sys.stderr)
        return 1
    fired: Counter[str] = Counter()
    skipped: dict[str, Counter[str]] = {}
    bad = 0
    with progress(len(lines), "replay", unit="lines") as bar:
        for step in replay(rules, lines, engine_config(settings.rules)):
            bar.advance(step.line - bar.done)
            if step.error is not None:
                bad += 1
                bar.write(f"{args.events}:{step.line}: {step.error}", file=sys.stderr)
                continue
            if not args.quiet and not args.json:
                bar.write(f"line {step.line}: {step.what}")
            for d in step.decisions:
                if d.fired:
                    fired[d.rule_id] += 1
                else:
                    skipped.setdefault(d.rule_id, Counter())[d.outcome] += 1
                if args.json:
                    bar.write(json.dumps({
                        "line": step.line, "rule": d.rule_id, "fired": d.fired, "reason": d.reason, "customer_id": d.customer_id,
                        "scope": d.scope, "at": d.at, "outputs": [_describe(o) for o in d.outputs],
                    }, ensure_ascii=False))
                elif not args.quiet:
                    if d.fired:
                        bar.write(f"  FIRED  {d.rule_id}" + (f" for {d.customer_id}" if d.customer_id else ""))
                        for output in d.outputs:
                            bar.write(f"           → {_describe(output)}")
                    else:
                        bar.write(f"  no     {d.rule_id}: {d.reason}")
        bar.advance(len(lines) - bar.done)  # trailing blank and comment lines
    print("summary:", file=sys.stderr)
    for rule_id in sorted(rules.rules):
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(skipped.get(rule_id, Counter()).items()))
        line = f"  {rule_id}: fired {fired[rule_id]}" + (f"; not: {reasons}" if reasons else "")
        if not fired[rule_id] and not reasons:
            line += " (never triggered)"
        print(line, file=sys.stderr)
    if bad:
        print(f"{bad} line(s) could not be read", file=sys.stderr)
    return 1 if bad else 0


def _describe(output: Output) -> str:
    if isinstance(output, Publish):
        return f"publish {output.topic} {output.payload.decode('utf-8', 'replace')}"
    if isinstance(output, ProfileWrite):
        return f"profile {output.customer_id} local {json.dumps(output.local, ensure_ascii=False, sort_keys=True)}"
    if isinstance(output, Emit):
        return f"emit {output.event.kind} {json.dumps(output.event.attributes, ensure_ascii=False)} (through the consent gate)"
    assert isinstance(output, Delay)
    return f"wait {output.seconds:g}s"
