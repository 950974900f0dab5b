"""The replies the voice part will say, read from where they are written: skills write them as
module constants mapping a language to a text or a `str.format` template (`HOURS = {"en":
"{day}, we are open {hours}.", ...}`, read by `skills.api.text`), and so does the voice part for
its own (not understood, ask back, cancelled). Handed to the TTS part's phrasebook
(`REPLY_TEMPLATES`), which makes their fixed words ahead (docs/tts.md, "Replies made ahead").

Such a constant is all this relies on: every module-level mapping whose keys are language codes
and whose values are strings, one level of nesting too (`ASK_BACK[intent][language]`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator, Mapping
from types import ModuleType

# The voice part's own replies, besides the skills'.
OWN_REPLY_MODULES = ("gateway.voice.effects", "gateway.voice.answer", "gateway.voice.skillrunner")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


def reply_templates(module: ModuleType) -> Iterator[tuple[str, str]]:
    """(language, template) for every language → text mapping among the module's constants."""
    for name, value in vars(module).items():
        if name.startswith("_") or not isinstance(value, Mapping):
            continue
        if _is_by_language(value):
            yield from value.items()
            continue
        for inner in value.values():  # one level of nesting: ASK_BACK[intent][language]
            if isinstance(inner, Mapping) and _is_by_language(inner):
                yield from inner.items()


def _is_by_language(mapping: Mapping[object, object]) -> bool:
    return bool(mapping) and all(
        isinstance(k, str) and _LANGUAGE.match(k) and isinstance(v, str) for k, v in mapping.items()
    )


def all_reply_templates(skill_modules: Iterable[str]) -> Iterator[tuple[str, str]]:
    """The configured skills' reply templates, then the voice part's own. A skill module that
    cannot be imported is skipped (loading the skills reports it)."""
    for name in [*skill_modules, *OWN_REPLY_MODULES]:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        yield from reply_templates(module)
