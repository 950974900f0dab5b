"""Customers' own wordings for the open pass's language model.

The sentences say what the skills understand; customers say it their way ("got any bargains
on", "how long have I got before you shut"), and say things the shop cannot answer. The open
pass can only output words of its model, so a model sampled from the sentences alone hears
every utterance as sentence words: the key words cannot read a request worded otherwise, and
off-topic speech has no words of its own to be heard as. A file of wordings (one utterance per
line; `#` comments) adds their words and word sequences to the model, weighted to a share of
its trigram counts. The shipped files are written from the *tuning* corpora
(`scripts/gen_open_wordings.py`), never from a held-out one; a shop may add its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.voice.nlu.match import tokenise

FIELD = "voice.pocketsphinx.open_wordings"


def read_wordings(path: Path) -> list[list[str]]:
    """Each non-empty line (`#` starts a comment) tokenised as the matcher reads text; a file
    that cannot be read stops the start with its name and the setting."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([ConfigProblem(file=str(path), field=FIELD, message=f"cannot read the wordings: {reason}")]) from exc
    return [tokens for line in text.splitlines() if (tokens := tokenise(line.split("#", 1)[0]))]


def sayable(wordings: list[list[str]], can_say: Callable[[str], bool]) -> list[list[str]]:
    """The utterances the recogniser can say; one with a word it cannot is left out whole
    (dropping the word alone would join words that never follow each other)."""
    return [tokens for tokens in wordings if all(can_say(t) for t in tokens)]


def weighted(samples: list[list[str]], wordings: list[list[str]], share: float) -> list[list[str]]:
    """The sampled sentences with each wording repeated so that the wordings make about `share`
    of the utterances the trigram counts come from."""
    if not wordings or share <= 0:
        return samples
    copies = max(1, round(share / (1.0 - share) * len(samples) / len(wordings)))
    return samples + [w for w in wordings for _ in range(copies)]
