"""Reading `rules/*.yaml` into a `RuleSet`, or every problem with its file, line and field.

A file is either a list of rules or a mapping with `zones` (zone name → `site/device` globs) and
`rules`. All files load together: one problem anywhere and the whole set is refused, so a reload
of a half-edited file keeps the rules that were running.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from gateway.config.problems import ConfigProblem, problems_from_validation
from gateway.config.yamlpos import PositionedYaml, YamlLoadError, load_yaml_file
from gateway.rules.actions import Topics
from gateway.rules.compile import CompiledRule, RuleProblem, compile_rule
from gateway.rules.index import RuleSet, Zones
from gateway.rules.model import Name, Rule
from gateway.rules.settings import RulesSettings

_ZONES = TypeAdapter(dict[Name, list[str]])


@dataclass(frozen=True, slots=True)
class LoadResult:
    rules: RuleSet | None
    problems: list[ConfigProblem]
    files: dict[Path, float]  # each file's mtime, to notice changes


def topics_of(settings: RulesSettings) -> Topics:
    return Topics(settings.say_topic, settings.display_topic, settings.staff_topic, settings.lang)


def rule_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def file_stamps(folder: Path) -> dict[Path, float]:
    stamps: dict[Path, float] = {}
    for path in rule_files(folder):
        try:
            stamps[path] = path.stat().st_mtime_ns
        except OSError:
            continue  # removed between glob and stat: the next poll sees it gone
    return stamps


def load_rules(settings: RulesSettings) -> LoadResult:
    folder = settings.dir
    stamps = file_stamps(folder) if folder.is_dir() else {}
    if not folder.is_dir():
        return LoadResult(None, [ConfigProblem(file=str(folder), field="rules.dir", message="rules folder does not exist")], stamps)
    problems: list[ConfigProblem] = []
    compiled: list[CompiledRule] = []
    zones: dict[str, list[str]] = {}
    where: dict[str, str] = {}  # rule or zone → "file:line", for duplicate reports
    zone_refs: list[tuple[str, str, int | None, str]] = []
    opening = settings.opening_minutes()
    topics = topics_of(settings)
    for path in stamps:
        try:
            doc = load_yaml_file(path)
        except YamlLoadError as exc:
            problems.append(ConfigProblem(file=exc.file, line=exc.line, message=exc.message))
            continue
        items, prefix, file_zones = _split(doc, path, problems)
        for name, patterns in file_zones.items():
            line = doc.line_of(("zones", name))
            if name in zones:
                problems.append(ConfigProblem(file=str(path), line=line, field=f"zones.{name}", message=f"zone defined twice (also at {where['zone:' + name]})"))
                continue
            zones[name] = patterns
            where["zone:" + name] = f"{path}:{line}"
        for index, item in enumerate(items):
            loc = (*prefix, index)
            rule = _validate(item, doc, path, loc, problems)
            if rule is None:
                continue
            line = doc.line_of(loc)
            if rule.id in where:
                problems.append(ConfigProblem(file=str(path), line=doc.line_of((*loc, "id")), field=_field(loc, "id"), message=f"rule id {rule.id!r} is used twice (also at {where[rule.id]})"))
                continue
            where[rule.id] = f"{path}:{line}"
            try:
                compiled.append(compile_rule(rule, topics, opening))
            except RuleProblem as exc:
                problems.append(ConfigProblem(file=str(path), line=doc.line_of((*loc, *exc.loc)), field=_field(loc, *exc.loc), message=exc.message))
                continue
            if rule.trigger.zone is not None:
                zone_refs.append((rule.trigger.zone, str(path), doc.line_of((*loc, "trigger", "zone")), _field(loc, "trigger", "zone")))
    for zone, file, line, field in zone_refs:
        if zone not in zones:
            problems.append(ConfigProblem(file=file, line=line, field=field, message=f"unknown zone {zone!r}; define it under `zones:`"))
    if problems:
        return LoadResult(None, problems, stamps)
    sources = {rule_id: place for rule_id, place in where.items() if not rule_id.startswith("zone:")}
    return LoadResult(RuleSet(compiled, Zones(zones), sources), [], stamps)


def _split(doc: PositionedYaml, path: Path, problems: list[ConfigProblem]) -> tuple[list[Any], tuple[str | int, ...], dict[str, list[str]]]:
    data = doc.data
    if data is None:
        return [], (), {}
    if isinstance(data, list):
        return data, (), {}
    if not isinstance(data, dict):
        problems.append(ConfigProblem(file=str(path), line=1, message="a rules file is a list of rules, or a mapping with `zones` and `rules`"))
        return [], (), {}
    unknown = set(data) - {"zones", "rules"}
    for key in sorted(unknown, key=str):
        problems.append(ConfigProblem(file=str(path), line=doc.line_of((key,)), field=str(key), message="unknown key; a rules file has `zones` and `rules`"))
    zones: dict[str, list[str]] = {}
    try:
        zones = _ZONES.validate_python(data.get("zones") or {})
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, doc, path, ("zones",)))
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        problems.append(ConfigProblem(file=str(path), line=doc.line_of(("rules",)), field="rules", message="`rules` must be a list"))
        return [], ("rules",), zones
    return rules, ("rules",), zones


def _validate(item: Any, doc: PositionedYaml, path: Path, loc: tuple[str | int, ...], problems: list[ConfigProblem]) -> Rule | None:
    try:
        return Rule.model_validate(item)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, doc, path, loc))
        return None


def _field(loc: tuple[str | int, ...], *more: str | int) -> str:
    out = ""
    for part in (*loc, *more):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_rules(settings: Any) -> list[ConfigProblem]:
    """`touchgate check` hook (the rules part's `check`): every problem of the rules files, and purposes the
    privacy settings do not know (such a rule would never get consent, so never run)."""
    rules_settings: RulesSettings = settings.rules
    if not rules_settings.enabled:
        return []
    result = load_rules(rules_settings)
    if result.rules is None:
        return result.problems
    privacy = getattr(settings, "privacy", None)
    known = set(getattr(privacy, "purposes", None) or ())
    problems = []
    for rule in result.rules.rules.values():
        for purpose, field in ((rule.purpose, "purpose"), *((a.emit_event.purpose, "emit_event.purpose") for a in rule.rule.actions if a.emit_event)):
            if known and purpose is not None and purpose not in known:
                file, _, line = result.rules.sources.get(rule.id, ":").rpartition(":")
                problems.append(ConfigProblem(
                    file=file, line=int(line) if line.isdigit() else None, field=f"{rule.id}.{field}",
                    message=f"unknown purpose {purpose!r}; privacy.purposes has {sorted(known)}",
                ))
    return problems
