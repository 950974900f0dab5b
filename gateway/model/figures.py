"""A zone figure that changed (gateway/analytics): what the rules' figure triggers and the
metrics see. Pure; here so the ports (gateway/ports.py) can name it without importing a part."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FigureChange:
    zone: str
    figure: str  # one of gateway.rules.model.FigureName (core.FIGURES)
    value: float
    at: float
