"""`touchgate check` for the `api` section: the reasons the admin API would refuse to start."""

from __future__ import annotations

from gateway.config.problems import ConfigProblem
from gateway.config.settings import Settings


def check_api(settings: Settings) -> list[ConfigProblem]:
    return [ConfigProblem(file="<settings>", field=f, message=m) for f, m in settings.api.start_problems()]
