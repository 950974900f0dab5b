"""YAML loading that remembers where each key was written, so errors can name the line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class YamlLoadError(Exception):
    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line or '?'}: {message}")


@dataclass
class PositionedYaml:
    """Parsed data plus a map from key path to the 1-based line where that key stands."""

    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """The line of the deepest part of `loc` that exists in the file."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def _walk(node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if path + (key,) in lines:
                # YAML would silently keep only the last one: a second `mqtt:` section would
                # throw away the first without a word.
                raise _DuplicateKey(key, lines[path + (key,)], key_node.start_mark.line + 1)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _walk(item, path + (index,), lines)


def parse_yaml(text: str, file: str = "<string>") -> PositionedYaml:
    """Parse one YAML document safely; syntax errors become a YamlLoadError with the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise YamlLoadError(file, mark.line + 1 if mark else None, str(exc.problem)) from exc
    except yaml.YAMLError as exc:
        raise YamlLoadError(file, None, str(exc)) from exc
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        try:
            _walk(node, (), lines)
        except _DuplicateKey as dup:
            raise YamlLoadError(file, dup.line, f"duplicate key {dup.key!r} (first at line {dup.first_line})") from None
    return PositionedYaml(data=data, lines=lines)


class _DuplicateKey(Exception):
    def __init__(self, key: str, first_line: int, line: int) -> None:
        super().__init__(key)
        self.key, self.first_line, self.line = key, first_line, line


def load_yaml_file(path: Path) -> PositionedYaml:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlLoadError(str(path), None, f"cannot read: {exc}") from exc
    return parse_yaml(text, str(path))
