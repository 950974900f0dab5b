"""Topic filters with named wildcards: `zigbee2mqtt/{device}`, `tele/cardreader_{site}/SENSOR`.

A `{name}` stands for a whole topic level or part of one (`{site}_{device}`: the first `_`
separates them); a trailing `#` is allowed.
The filter compiles to the MQTT subscription (`+` per named level) and to a regex that extracts the
names from a concrete topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAMED = re.compile(r"\{([a-z_]+)\}")


class TopicFilterError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TopicFilter:
    pattern: str
    subscription: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, pattern: str) -> TopicFilter:
        if not pattern or pattern.startswith("/"):
            raise TopicFilterError("a topic filter must be non-empty and not start with '/'")
        levels = pattern.split("/")
        sub_levels: list[str] = []
        regex_parts: list[str] = []
        for index, level in enumerate(levels):
            if level == "#":
                if index != len(levels) - 1:
                    raise TopicFilterError("'#' is only allowed as the last level")
                sub_levels.append("#")
                regex_parts.append(".*")
                continue
            if "+" in level or "#" in level:
                raise TopicFilterError(f"use a named wildcard such as {{device}} instead of '+' in {level!r}")
            if _NAMED.search(level):
                sub_levels.append("+")
                # split() alternates literal text and wildcard names: lit, name, lit, name, lit.
                pieces = _NAMED.split(level)
                regex = "".join(
                    re.escape(piece) if i % 2 == 0 else f"(?P<{piece}>[^/]+?)" for i, piece in enumerate(pieces)
                )
                if any(pieces[i] == "" for i in range(2, len(pieces) - 1, 2)):
                    raise TopicFilterError(f"two wildcards in {level!r} need literal text between them")
                regex_parts.append(regex)
            else:
                if "{" in level or "}" in level:
                    raise TopicFilterError(f"malformed wildcard in {level!r}")
                sub_levels.append(level)
                regex_parts.append(re.escape(level))
        all_names = _NAMED.findall(pattern)
        if len(all_names) != len(set(all_names)):
            raise TopicFilterError("a wildcard name is used twice")
        return cls(pattern, "/".join(sub_levels), re.compile("/".join(regex_parts) + r"\Z"))

    def match(self, topic: str) -> dict[str, str] | None:
        found = self.regex.match(topic)
        return found.groupdict() if found else None
