"""The base of every Hermes JSON message: camelCase fields as on the wire, unknown fields ignored,
and the topic the message travels on.

Rhasspy services and satellites add fields of their own (and newer versions add more); a message
must not be refused for them, so models ignore extras instead of forbidding them.

As in rhasspy-hermes, a message class owns its topic: `TOPIC` is a template whose `{names}` are
ids (`hermes/audioServer/{siteId}/playFinished`); `Message.topic(siteId="kiosk")` builds it,
refusing ids that would break the topic; on an instance, `message.topic()` takes the ids from the
message's own fields; `Message.is_topic(topic)` and `Message.topic_ids(topic)` read one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

# Ids that end up inside MQTT topics must not contain separators or wildcards, nor what Mosquitto
# refuses in a topic as malformed UTF-8 (control characters, surrogates, non-characters): a
# publish with such a topic makes the broker drop the gateway's connection, and every message in
# flight comes again. (Found by the fuzz test: a hostile tts/say id disconnected the gateway.)
_NON_CHARACTERS = "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(1, 17))
_TOPIC_SAFE = r"^[^/#+\x00-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff" + _NON_CHARACTERS + r"]{1,128}$"
# Lone surrogates only Python's side can see (the schema's regex engine refuses to name them).
_TOPIC_SAFE_RE = re.compile(_TOPIC_SAFE[:-9] + r"\ud800-\udfff]{1,128}$")


def _topic_safe(value: str) -> str:
    if not _TOPIC_SAFE_RE.match(value):
        raise ValueError("cannot be used in an MQTT topic")
    return value


SiteId = Annotated[str, StringConstraints(pattern=_TOPIC_SAFE), AfterValidator(_topic_safe)]
DEFAULT_SITE = "default"
_FORBIDDEN = frozenset("/#+\x00")  # in a topic level we read: the broker has checked the rest
_NAME = re.compile(r"\{(\w+)\}")


def check_id(kind: str, value: str) -> str:
    if not _TOPIC_SAFE_RE.match(value):
        raise ValueError(f"{kind} {value!r} cannot be used in an MQTT topic")
    return value


def language_tag(lang: str | None) -> str | None:
    """The language of a Hermes `lang` field: "de-DE", "de_DE", "DE" -> "de"; None or "" -> None."""
    if not lang:
        return None
    return lang.replace("_", "-").split("-", 1)[0].strip().lower() or None


class TopicTemplate:
    """A topic with named id levels, e.g. `hermes/intent/{intentName}`."""

    __slots__ = ("template", "_levels")

    def __init__(self, template: str) -> None:
        self.template = template
        self._levels = template.split("/")

    @property
    def names(self) -> list[str]:
        return _NAME.findall(self.template)

    @property
    def subscription(self) -> str:
        """The MQTT filter for every topic of this template (each id level a `+`)."""
        return _NAME.sub("+", self.template)

    def format(self, **ids: str) -> str:
        missing = [name for name in self.names if name not in ids]
        if missing:
            raise ValueError(f"{self.template} needs {', '.join(missing)}")
        return self.template.format(**{name: check_id(name, ids[name]) for name in self.names})

    def parse(self, topic: str) -> dict[str, str] | None:
        """The ids of `topic`, or None when it is not one of this template's topics."""
        levels = topic.split("/")
        if len(levels) != len(self._levels):
            return None
        ids: dict[str, str] = {}
        for pattern, level in zip(self._levels, levels, strict=True):
            named = _NAME.fullmatch(pattern)
            if named is None:
                if pattern != level:
                    return None
            elif not level or _FORBIDDEN.intersection(level):
                return None
            else:
                ids[named.group(1)] = level
        return ids


class _Topic:
    """`topic(**ids)`: on the class, the ids are given; on a message, its own fields fill them."""

    def __get__(self, instance: HermesMessage | None, owner: type[HermesMessage]) -> Callable[..., str]:
        def topic(**ids: str) -> str:
            template = owner.TOPIC
            if template is None:
                raise TypeError(f"{owner.__name__} is not sent on a topic of its own")
            if instance is not None:
                ids = {**instance.topic_ids_of_message(), **ids}
            return template.format(**ids)

        return topic


class HermesMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    # None: a part of other messages (slots, tokens), never sent alone.
    TOPIC: ClassVar[TopicTemplate | None] = None
    topic: ClassVar[_Topic] = _Topic()

    @classmethod
    def is_topic(cls, topic: str) -> bool:
        return cls.TOPIC is not None and cls.TOPIC.parse(topic) is not None

    @classmethod
    def topic_ids(cls, topic: str) -> dict[str, str] | None:
        return None if cls.TOPIC is None else cls.TOPIC.parse(topic)

    @classmethod
    def subscription(cls) -> str:
        if cls.TOPIC is None:
            raise TypeError(f"{cls.__name__} is not sent on a topic of its own")
        return cls.TOPIC.subscription

    def topic_ids_of_message(self) -> dict[str, Any]:
        """The ids of this message's topic that its fields carry (by the same names)."""
        template = type(self).TOPIC
        names = template.names if template is not None else []
        return {name: getattr(self, name) for name in names if isinstance(getattr(self, name, None), str)}

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> Self:
        """Parse a payload; raises HermesParseError with a readable reason."""
        try:
            return cls.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(payload)"
            raise HermesParseError(f"{cls.__name__}: {where}: {first['msg']}") from exc


class HermesParseError(ValueError):
    """A Hermes payload that does not fit its message model."""
