"""`touchgate check` for Wyoming: what the part would refuse at start (no voice, no voice of its
own for satellites, two satellites on one site) and a wake phrase the recogniser cannot listen for."""

from __future__ import annotations

from gateway.config.problems import ConfigProblem
from gateway.config.settings import Settings


def _problem(field: str, message: str) -> ConfigProblem:
    return ConfigProblem(file="<settings>", field=field, message=message)


def wiring_problems(settings: Settings) -> list[ConfigProblem]:
    """Cheap checks on the settings alone (the part runs them at start too)."""
    wyoming = settings.wyoming
    if not wyoming.enabled:
        return []
    if not settings.voice.enabled:
        return [_problem("wyoming.enabled", "Wyoming needs the voice part (voice.enabled: true)")]
    problems = []
    sites = [satellite.site_id for satellite in wyoming.satellites]
    if len(set(sites)) != len(sites):
        problems.append(_problem("wyoming.satellites", "two satellites share a site_id"))
    if wyoming.satellites and not settings.tts.enabled:
        problems.append(_problem("wyoming.satellites", "satellites need the gateway's own voice (tts.enabled: true) to hear replies"))
    return problems


def check_wyoming(settings: Settings) -> list[ConfigProblem]:
    problems = wiring_problems(settings)
    if problems or not settings.wyoming.enabled or not settings.wyoming.satellites:
        return problems
    from gateway.wyoming.wake import WakePhraseError, wake_model  # PocketSphinx: only when satellites are on

    try:
        wake_model(settings.wyoming.wake)  # scans PocketSphinx's dictionary: a tenth of a second
    except WakePhraseError as exc:
        return [_problem("wyoming.wake.phrase", str(exc))]
    return []
