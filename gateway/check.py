"""`touchgate check`: every configuration problem at once, each with file, line and field.

The settings validate themselves (cross-field rules are model validators, so `check` and `run`
refuse the same files); then the device profiles, then each part's cheap `check`, for every part
whether it is on or not (a part that is off checks nothing, and imports nothing heavy).
"""

from __future__ import annotations

from pathlib import Path

from gateway.assembly import all_parts
from gateway.config.problems import ConfigError, ConfigProblem
from gateway.config.settings import load_settings
from gateway.devices.registry import load_profiles


def check_all(config_file: Path | None) -> list[ConfigProblem]:
    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        return exc.problems
    problems: list[ConfigProblem] = []
    _, profile_problems = load_profiles(settings.device_profiles_dir)
    problems.extend(profile_problems)
    for part in all_parts():
        problems.extend(part.check(settings))
    return problems
