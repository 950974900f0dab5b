"""The TTS part: speaks `hermes/tts/say` with espeak-ng or Piper, and offers itself as the
speaker of the gateway's own dialogue manager (in-process, no broker round trip).

`check` is cheap (espeak-ng's voices, Piper's files); numpy, soxr and the engines are imported
only when the part is built."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigProblem
from gateway.part import Built, Core, PartBase, RouteSpec
from gateway.ports import REPLY_TEMPLATES, SPEAKER, SYNTHESISER, Ports
from gateway.tts.settings import espeak_voice_name, languages_spoken

if TYPE_CHECKING:
    from gateway.config.settings import Settings

_SOURCE = "<settings>"


class TtsPart(PartBase):
    name = "tts"
    section = "tts"
    provides = (SPEAKER, SYNTHESISER, REPLY_TEMPLATES)

    def check(self, settings: Settings) -> list[ConfigProblem]:
        return check(settings)

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.hermes.playback import PLAY_FINISHED_SUBSCRIPTION
        from gateway.hermes.tts import TTS_SAY
        from gateway.tts.cache import ReplyCache
        from gateway.tts.phrasebook import Phrasebook
        from gateway.tts.prepare import prepare_in_background
        from gateway.tts.service import TtsService
        from gateway.tts.synthesiser import Synthesiser
        from gateway.tts.voices import start_engines

        settings = core.settings.tts
        voice = core.settings.voice  # the sites' languages: one mapping for every part
        engines = await start_engines(settings, voice.languages())
        cache = ReplyCache(settings.cache_entries, settings.cache_max_bytes, settings.prepared_max_bytes)
        # What the skills and the voice part will say: the voice part (built after this one)
        # hands its templates over through REPLY_TEMPLATES; they are made ahead once every part
        # is built and the tasks start.
        phrasebook = Phrasebook()
        synthesiser = Synthesiser(settings, engines, cache, voice.language_of, phrasebook if settings.prepare_replies else None)
        service = TtsService(settings, synthesiser, core.publish, core.dead_letter)
        tasks = [service.run()]
        if settings.prepare_replies:
            tasks.append(prepare_in_background(synthesiser, settings.output_formats()))
        return Built(
            # QoS 0: a reply queued by the broker while the gateway was down would be spoken late,
            # out of its conversation; better not at all. The dialogue manager times out and says so.
            routes=[
                RouteSpec(TTS_SAY, service.on_say, qos=0, auto_ack=True),
                RouteSpec(PLAY_FINISHED_SUBSCRIPTION, service.on_play_finished, qos=0, auto_ack=True),
            ],
            tasks=tasks,
            # Transports that carry audio themselves (Wyoming) synthesise through the same voices and cache.
            offers={SPEAKER: service, SYNTHESISER: synthesiser, REPLY_TEMPLATES: phrasebook},
            service=service,
        )


PART = TtsPart()


def check(settings: Settings) -> list[ConfigProblem]:
    """What `touchgate check` can tell without starting: espeak-ng and its voices installed,
    Piper voice files present and piper-tts importable."""
    tts = settings.tts
    if not tts.enabled:
        return []
    problems: list[ConfigProblem] = []
    languages = languages_spoken(tts, settings.voice.languages())
    espeak_voices = [(lang, espeak_voice_name(lang, tts.voice(lang))) for lang in languages if tts.voice(lang).engine == "espeak-ng"]
    if espeak_voices:
        binary = shutil.which(tts.espeak_ng_path)
        if binary is None:
            problems.append(ConfigProblem(file=_SOURCE, field="tts.espeak_ng_path", message=f"{tts.espeak_ng_path} not found: install the Debian package espeak-ng"))
        else:
            for language, name in espeak_voices:
                if not _espeak_has_voice(binary, name):
                    problems.append(ConfigProblem(file=_SOURCE, field=f"tts.voices.{language}.espeak_voice", message=f"espeak-ng has no voice {name!r} (see espeak-ng --voices)"))
    for language in languages:
        voice = tts.voice(language)
        if voice.engine != "piper" or voice.piper_model is None:
            continue
        config = voice.piper_config or voice.piper_model.with_name(voice.piper_model.name + ".json")
        for field, path in (("piper_model", voice.piper_model), ("piper_config", config)):
            if not path.is_file():
                problems.append(ConfigProblem(file=str(path), field=f"tts.voices.{language}.{field}", message="file does not exist"))
        try:
            import piper  # noqa: F401  (only whether it is installed)
        except ImportError:
            problems.append(ConfigProblem(file=_SOURCE, field=f"tts.voices.{language}.engine", message="piper-tts is not installed (pip install piper-tts)"))
    return problems


def _espeak_has_voice(binary: str, name: str) -> bool:
    """espeak-ng exits non-zero for a voice it does not know; `-q` speaks nothing."""
    result = subprocess.run([binary, "-q", "-v", name, "ok"], capture_output=True, timeout=10, check=False)
    return result.returncode == 0
