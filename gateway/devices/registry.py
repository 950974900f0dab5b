"""Loading device profiles from `device_profiles/*.yaml`, with every problem located."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gateway.config.problems import ConfigProblem, problems_from_validation
from gateway.config.yamlpos import YamlLoadError, load_yaml_file
from gateway.devices.profile import DeviceProfile
from gateway.devices.topics import TopicFilter, TopicFilterError


def load_profiles(directory: Path) -> tuple[list[DeviceProfile], list[ConfigProblem]]:
    """All valid profiles in the folder, and the problems of the invalid ones."""
    profiles: list[DeviceProfile] = []
    problems: list[ConfigProblem] = []
    if not directory.is_dir():
        return [], [ConfigProblem(file=str(directory), message="device profile folder does not exist")]
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            doc = load_yaml_file(path)
        except YamlLoadError as exc:
            problems.append(ConfigProblem(file=exc.file, line=exc.line, message=exc.message))
            continue
        if not isinstance(doc.data, dict):
            problems.append(ConfigProblem(file=str(path), line=1, message="a device profile must be a mapping"))
            continue
        try:
            profile = DeviceProfile.model_validate(doc.data)
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, doc, path))
            continue
        try:
            TopicFilter.parse(profile.topic)
        except TopicFilterError as exc:
            problems.append(ConfigProblem(file=str(path), line=doc.line_of(("topic",)), field="topic", message=str(exc)))
            continue
        if profile.name in seen:
            problems.append(
                ConfigProblem(file=str(path), line=doc.line_of(("name",)), field="name", message=f"duplicate of {seen[profile.name]}")
            )
            continue
        seen[profile.name] = path
        profiles.append(profile)
    if not profiles and not problems:
        problems.append(ConfigProblem(file=str(directory), message="no device profiles (*.yaml) found"))
    return profiles, problems
