"""PocketSphinx's English dictionary (inside its wheel): which words it can say, and how."""

from __future__ import annotations

from pathlib import Path


def dictionary_path() -> Path:
    import pocketsphinx  # the speech extra: imported only when a wake phrase is checked

    return Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"


def pronunciations(words: set[str]) -> dict[str, list[str]]:
    """word → its dictionary lines (`gate G EY T`, variants such as `the(2) ...`), for these words
    only (a scan of the 135k-line file: about a tenth of a second; the whole dictionary as Python
    objects would cost ~60 MB)."""
    found: dict[str, list[str]] = {}
    with dictionary_path().open(encoding="utf-8") as lines:
        for line in lines:
            word = line[: line.find(" ")].split("(")[0]
            if word in words:
                found.setdefault(word, []).append(line.rstrip("\n"))
    return found


def unknown_words(words: set[str]) -> set[str]:
    """The words the dictionary cannot say (all of them when PocketSphinx is not installed: the
    wake stage could not listen for any)."""
    try:
        return words - pronunciations(words).keys()
    except ModuleNotFoundError:
        return words
