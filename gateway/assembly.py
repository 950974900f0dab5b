"""Which parts the gateway has, and the order they are built in.

The parts are the settings: each section model of `Settings` that belongs to a part names it in
its `part` class variable ("module:attribute"). So a new part is its own module and one field of
`Settings` (its section); the CLI, `touchgate check` and the root find it here. Part modules are
cheap to import (see gateway/part.py), so discovering them costs no speech library.

The build order comes from the ports: a part is built after every enabled part offering a port it
requires or uses. A required port no enabled part offers, two parts offering the same port, or a
circle of parts waiting on each other fail at start with a message naming them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.config.settings import Settings
from gateway.part import Part
from gateway.ports import Port


def part_paths() -> list[tuple[str, str]]:
    """(settings field, "module:attribute") of every part, in the order of the settings."""
    found = []
    for name, info in Settings.model_fields.items():
        path = getattr(info.annotation, "part", None)
        if isinstance(path, str):
            found.append((name, path))
    return found


def all_parts() -> list[Part]:
    parts: list[Part] = []
    for section, path in part_paths():
        module_name, _, attribute = path.partition(":")
        part: Part = getattr(importlib.import_module(module_name), attribute)
        if part.section != section:
            raise TypeError(f"{path} says its section is {part.section!r}, but Settings names it under {section!r}")
        parts.append(part)
    return parts


def build_order(parts: Iterable[Part]) -> list[Part]:
    """The parts in an order where each comes after those offering what it needs; ConfigError
    naming what is missing, offered twice, or circular."""
    parts = list(parts)
    offered_by: dict[Port[Any], Part] = {}
    problems: list[str] = []
    for part in parts:
        for port in part.provides:
            if port in offered_by:
                problems.append(f"the {port.name} is offered by both {offered_by[port].name} and {part.name}")
            offered_by[port] = part
    for part in parts:
        for port in part.requires:
            if port not in offered_by:
                problems.append(f"part {part.name} needs the {port.name}, which no enabled part offers")
    if problems:
        raise ConfigError([_problem(p) for p in problems])
    after = {
        part.name: {offered_by[port].name for port in (*part.requires, *part.uses) if port in offered_by} - {part.name}
        for part in parts
    }
    ordered: list[Part] = []
    placed: set[str] = set()
    waiting = list(parts)  # stable: the settings' order where the ports leave a choice
    while waiting:
        ready = [p for p in waiting if after[p.name] <= placed]
        if not ready:
            names = ", ".join(f"{p.name} (waits for {', '.join(sorted(after[p.name] - placed))})" for p in waiting)
            raise ConfigError([_problem(f"parts wait on each other in a circle: {names}")])
        ordered.append(ready[0])
        placed.add(ready[0].name)
        waiting.remove(ready[0])
    return ordered


def enabled_parts(settings: Settings, parts: Sequence[Part] | None = None) -> list[Part]:
    return build_order(p for p in (all_parts() if parts is None else parts) if p.enabled(settings))


def _problem(message: str) -> ConfigProblem:
    return ConfigProblem(file="<parts>", message=message)
