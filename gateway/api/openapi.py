"""Keeps `openapi.yaml`'s component schemas equal to the pydantic models the server answers with.

The paths are written by hand in the YAML; `components.schemas` is generated from
`gateway.api.models`. A test fails when they drift; `python -m gateway.api.openapi` rewrites them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from gateway.api import analytics_models, models

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")

RESPONSE_MODELS: tuple[type[models.ApiModel], ...] = (
    models.Problem,
    models.Health,
    models.Readiness,
    models.StatusReport,
    models.DeviceList,
    models.DeadLetterPage,
    models.ConsentPage,
    models.RuleList,
    models.RuleReload,
    models.CustomerExport,
    models.ErasureReport,
    analytics_models.ZoneFiguresReport,
    analytics_models.SeriesReport,
    analytics_models.HoursReport,
)


def component_schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(m, "serialization") for m in RESPONSE_MODELS], ref_template="#/components/schemas/{model}"
    )
    return dict(sorted(top.get("$defs", {}).items()))


def load_document(path: Path = OPENAPI_FILE) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def write_components(path: Path = OPENAPI_FILE) -> None:
    """Rewrite the `components:` section (it must come last) with freshly generated schemas,
    keeping its hand-written parts (security schemes, shared responses)."""
    text = path.read_text(encoding="utf-8")
    head, marker, _ = text.partition("\ncomponents:\n")
    if not marker:
        raise SystemExit(f"{path} has no top-level `components:` section")
    kept = {k: v for k, v in load_document(path)["components"].items() if k != "schemas"}
    generated = yaml.safe_dump(
        {"components": {**kept, "schemas": component_schemas()}},
        sort_keys=False,
        allow_unicode=True,
        width=110,
    )
    path.write_text(head + "\n" + generated, encoding="utf-8")


if __name__ == "__main__":
    write_components(Path(sys.argv[1]) if len(sys.argv) > 1 else OPENAPI_FILE)
    print(f"rewrote components of {OPENAPI_FILE}")
