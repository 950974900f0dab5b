"""`touchgate check`: every configuration problem at once, each with file, line and field."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.config.settings import Settings, load_settings
from gateway.devices.registry import load_profiles


# Each part's checker, as "module:function" taking Settings and returning its problems
# (rules files, skills' sentences, ...), each with file, line and field.
PART_CHECKS: tuple[str, ...] = ("gateway.tts.part:check", "gateway.consent.check:check_privacy", "gateway.api.check:check_api", "gateway.rules.part:check", "gateway.sync.check:check_sync", "gateway.voice.check:check_voice", "gateway.analytics.part:check")

PartCheck = Callable[[Settings], list[ConfigProblem]]


def check_all(config_file: Path | None) -> list[ConfigProblem]:
    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        return exc.problems
    problems: list[ConfigProblem] = []
    _, profile_problems = load_profiles(settings.device_profiles_dir)
    problems.extend(profile_problems)
    for spec in PART_CHECKS:
        module_name, _, function_name = spec.partition(":")
        check: PartCheck = getattr(importlib.import_module(module_name), function_name)
        problems.extend(check(settings))
    return problems
