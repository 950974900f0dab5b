"""`touchgate check` for the consent part: every device profile's purpose must be a configured one
(an event of an unknown purpose could never be consented to, so it would never leave the shop)."""

from __future__ import annotations

from gateway.config.problems import ConfigProblem
from gateway.config.settings import Settings
from gateway.config.yamlpos import YamlLoadError, load_yaml_file


def check_privacy(settings: Settings) -> list[ConfigProblem]:
    purposes = set(settings.privacy.purposes)
    problems: list[ConfigProblem] = []
    directory = settings.device_profiles_dir
    if not directory.is_dir():
        return problems  # reported by the device profile check
    for path in sorted(directory.glob("*.yaml")):
        try:
            doc = load_yaml_file(path)
        except YamlLoadError:
            continue  # reported by the device profile check
        purpose = doc.data.get("purpose") if isinstance(doc.data, dict) else None
        if isinstance(purpose, str) and purpose not in purposes:
            problems.append(
                ConfigProblem(
                    file=str(path),
                    line=doc.line_of(("purpose",)),
                    field="purpose",
                    message=f"purpose {purpose!r} is not one of privacy.purposes {sorted(purposes)}",
                )
            )
    return problems
