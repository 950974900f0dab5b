"""A configuration problem, pinned to a file, a line and a field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from gateway.config.yamlpos import PositionedYaml


class ConfigProblem(BaseModel):
    file: str
    line: int | None = None
    field: str = ""
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(file)'}: {self.message}"


class ConfigError(Exception):
    """Raised at start when configuration is unusable; carries every problem found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def problems_from_validation(
    error: ValidationError, doc: PositionedYaml | None, file: Path | str, prefix: tuple[str | int, ...] = ()
) -> list[ConfigProblem]:
    """Turn pydantic's errors into problems with the YAML line of the offending field."""
    found: list[ConfigProblem] = []
    for err in error.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        line = doc.line_of(loc) if doc is not None else None
        found.append(
            ConfigProblem(file=str(file), line=line, field=_dotted(loc), message=err["msg"])
        )
    return found


def _dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
