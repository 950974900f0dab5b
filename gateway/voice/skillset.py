"""Loading the configured skills and the shop's data, and compiling their sentences for one
language into an intent model (matcher + grammar sources). Problems carry file and line."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from gateway.config.problems import ConfigProblem, problems_from_validation
from gateway.config.yamlpos import YamlLoadError, load_yaml_file
from gateway.voice.nlu.ast import Alternatives, Node, Optional, Sequence, SlotRef, SlotValue, Template
from gateway.voice.nlu.keywords import COMPOUNDING, NOT_HEADS, KeywordClassifier, KeywordError, KeywordRule, parse_rule, vocabulary
from gateway.voice.nlu.match import Matcher
from gateway.voice.nlu.parse import TemplateError, parse_expression, parse_sentences
from gateway.voice.settings import VoiceSettings
from skills.api import Catalogue, Handler, ShopData, Skill, StoreInfo


M = TypeVar("M", bound=BaseModel)


class SkillSetError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class IntentModel:
    """Everything recognition needs for one language."""

    language: str
    templates: list[Template]
    rules: dict[str, Node]
    lists: dict[str, list[SlotValue]]
    handlers: dict[str, Handler]
    matcher: Matcher


def load_skills(names: list[str]) -> tuple[list[Skill], list[ConfigProblem]]:
    skills: list[Skill] = []
    problems: list[ConfigProblem] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            problems.append(ConfigProblem(file="<settings>", field="voice.skills", message=f"cannot import {name}: {exc}"))
            continue
        skill = getattr(module, "SKILL", None)
        if not isinstance(skill, Skill):
            problems.append(ConfigProblem(file=str(getattr(module, "__file__", name)), field="SKILL", message=f"{name} has no SKILL"))
            continue
        skills.append(skill)
    return skills, problems


def _load_model(path: Path, model: type[M], problems: list[ConfigProblem]) -> M | None:
    try:
        doc = load_yaml_file(path)
    except YamlLoadError as exc:
        problems.append(ConfigProblem(file=exc.file, line=exc.line, message=exc.message))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, doc, path))
        return None


def load_shop_data(settings: VoiceSettings) -> tuple[ShopData | None, list[ConfigProblem]]:
    problems: list[ConfigProblem] = []
    store = _load_model(settings.store_info, StoreInfo, problems)
    catalogue = _load_model(settings.catalogue, Catalogue, problems)
    if store is None or catalogue is None:
        return None, problems
    return ShopData(store, catalogue), problems


def compile_intents(skills: list[Skill], shop: ShopData, language: str) -> tuple[IntentModel, list[ConfigProblem]]:
    problems: list[ConfigProblem] = []
    templates: list[Template] = []
    rules: dict[str, Node] = {}
    handlers: dict[str, Handler] = {}
    effectful: set[str] = set()
    answers: set[str] = set()
    keyword_rules: list[KeywordRule] = []
    lists: dict[str, list[SlotValue]] = {"product": []}
    written: dict[str, list[SlotValue]] = {"product": []}  # read by the key words only, never in the grammar
    for product in shop.catalogue.products:
        for spoken in product.names.get(language, []):
            _add_value(lists["product"], spoken, product.id, f"catalogue:{product.id}", problems)
        for spoken in product.written.get(language, []):
            _add_value(written["product"], spoken, product.id, f"catalogue:{product.id}", problems)
    for skill in skills:
        source = f"skills.{skill.name}[{language}]"
        for list_name, by_lang in skill.lists.items():
            for spoken in by_lang.get(language, []):
                said, sep, value = spoken.rpartition(":") if ":" in spoken else (spoken, "", "")
                _add_value(lists.setdefault(list_name, []), said if sep else spoken, value if sep else None, source, problems)
        effectful |= skill.effectful
        answers |= skill.answers
        for intent, lines in skill.keywords.get(language, {}).items():
            for line in lines:
                try:
                    keyword_rules.append(parse_rule(intent, line, f"skills.{skill.name}[{language}].keywords"))
                except KeywordError as exc:
                    problems.append(ConfigProblem(file=f"skills.{skill.name}", field=intent, message=str(exc)))
        text = skill.sentences.get(language)
        if text is None:
            continue
        try:
            parsed = parse_sentences(text, source)
        except TemplateError as exc:
            problems.append(ConfigProblem(file=exc.source, message=exc.message))
            continue
        for name, rule in parsed.rules.items():
            if name in rules:
                problems.append(ConfigProblem(file=source, field=name, message=f"rule {name!r} is also defined by another skill"))
            rules[name] = rule
        for intent in parsed.intents:
            if intent in skill.external:
                continue  # answered over Hermes by an external skill
            if intent not in skill.handlers:
                problems.append(ConfigProblem(file=source, field=intent, message=f"intent {intent} has sentences but no handler"))
            elif intent in handlers:
                problems.append(ConfigProblem(file=source, field=intent, message=f"intent {intent} is handled by two skills"))
            else:
                handlers[intent] = skill.handlers[intent]
        templates.extend(parsed.templates)
        for template in parsed.templates:
            problems.extend(_unknown_lists(template, lists))
    problems.extend(
        ConfigProblem(file=r.source, field=r.intent, message=f"key words for {r.intent}, which no sentence has")
        for r in keyword_rules if r.intent not in {t.intent for t in templates}
    )
    classifier = KeywordClassifier(
        tuple(keyword_rules), vocabulary(templates, rules, {**lists, "written:": written["product"]}, language), language in COMPOUNDING,
        {name: [*lists.get(name, []), *values] for name, values in written.items()}, NOT_HEADS.get(language, frozenset()),
    ) if keyword_rules else None
    matcher = Matcher(templates, rules, lists, frozenset(effectful), frozenset(answers), classifier)
    model = IntentModel(language, templates, rules, lists, handlers, matcher)
    return model, problems


def _add_value(target: list[SlotValue], spoken: str, value: str | int | None, source: str, problems: list[ConfigProblem]) -> None:
    try:
        target.append(SlotValue(parse_expression(spoken, source), value))
    except TemplateError as exc:
        problems.append(ConfigProblem(file=exc.source, message=exc.message))


def _unknown_lists(template: Template, lists: dict[str, list[SlotValue]]) -> list[ConfigProblem]:
    found: list[ConfigProblem] = []

    def walk(node: Node) -> None:
        match node:
            case SlotRef(list_name=name) if name not in lists:
                found.append(ConfigProblem(file=template.source, field=name, message=f"slot list {{{name}}} has no values"))
            case Sequence(items=items):
                for item in items:
                    walk(item)
            case Alternatives(options=options):
                for option in options:
                    walk(option)
            case Optional(item=item):
                walk(item)

    walk(template.expression)
    return found


def build_intent_model(settings: VoiceSettings, language: str | None = None) -> tuple[IntentModel, ShopData]:
    """Everything, or SkillSetError with every problem."""
    skills, problems = load_skills(settings.skills)
    shop, shop_problems = load_shop_data(settings)
    problems.extend(shop_problems)
    if shop is None:
        raise SkillSetError(problems)
    model, compile_problems = compile_intents(skills, shop, language or settings.language)
    problems.extend(compile_problems)
    if problems:
        raise SkillSetError(problems)
    if not model.templates:
        raise SkillSetError([ConfigProblem(file="<settings>", field="voice.language", message=f"no skill has sentences in {model.language!r}")])
    return model, shop
