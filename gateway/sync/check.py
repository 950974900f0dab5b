"""`touchgate check` for the sync section: files that must exist, settings that fit together."""

from __future__ import annotations

from gateway.config.problems import ConfigProblem
from gateway.config.settings import Settings


def check_sync(settings: Settings) -> list[ConfigProblem]:
    s = settings.sync
    problems: list[ConfigProblem] = []
    if s.ca_file is not None and not s.ca_file.is_file():
        problems.append(ConfigProblem(file="<settings>", field="sync.ca_file", message=f"{s.ca_file} does not exist"))
    if s.url is not None and s.ca_file is not None and s.url.scheme != "https":
        problems.append(ConfigProblem(file="<settings>", field="sync.ca_file", message="set, but sync.url is not https"))
    if s.batch_max_bytes > s.outbox_max_bytes:
        problems.append(
            ConfigProblem(file="<settings>", field="sync.batch_max_bytes", message="larger than sync.outbox_max_bytes")
        )
    return problems
