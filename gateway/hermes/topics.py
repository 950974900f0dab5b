"""Every Hermes topic the gateway speaks, built and parsed in one place.

Topics with ids inside (`hermes/audioServer/<siteId>/audioFrame`, `hermes/intent/<intentName>`,
`hermes/error/<component>`) are built by functions that refuse ids which would break the topic,
and parsed by functions that return None for any other topic.
"""

from __future__ import annotations

_FORBIDDEN = frozenset("/#+\x00")

ASR_START_LISTENING = "hermes/asr/startListening"
ASR_STOP_LISTENING = "hermes/asr/stopListening"
ASR_TEXT_CAPTURED = "hermes/asr/textCaptured"
ASR_ERROR = "hermes/error/asr"

NLU_QUERY = "hermes/nlu/query"
NLU_INTENT_NOT_RECOGNIZED = "hermes/nlu/intentNotRecognized"
NLU_ERROR = "hermes/error/nlu"
INTENT_PREFIX = "hermes/intent/"
INTENT_SUBSCRIPTION = "hermes/intent/#"

DM_START_SESSION = "hermes/dialogueManager/startSession"
DM_CONTINUE_SESSION = "hermes/dialogueManager/continueSession"
DM_END_SESSION = "hermes/dialogueManager/endSession"
DM_SESSION_STARTED = "hermes/dialogueManager/sessionStarted"
DM_SESSION_ENDED = "hermes/dialogueManager/sessionEnded"
DM_SESSION_QUEUED = "hermes/dialogueManager/sessionQueued"
DM_ERROR = "hermes/error/dialogueManager"

HOTWORD_DETECTED_SUBSCRIPTION = "hermes/hotword/+/detected"
# The dialogue manager turns a site's wake word off during its session (the satellite must not
# wake on its own reply) and on again after it, as Rhasspy's does.
HOTWORD_TOGGLE_OFF = "hermes/hotword/toggleOff"
HOTWORD_TOGGLE_ON = "hermes/hotword/toggleOn"
AUDIO_FRAME_SUBSCRIPTION = "hermes/audioServer/+/audioFrame"
AUDIO_SESSION_FRAME_SUBSCRIPTION = "hermes/audioServer/+/+/audioSessionFrame"
ERROR_PREFIX = "hermes/error/"


def check_id(kind: str, value: str) -> str:
    if not value or len(value) > 128 or _FORBIDDEN.intersection(value):
        raise ValueError(f"{kind} {value!r} cannot be used in an MQTT topic")
    return value


def intent_topic(intent_name: str) -> str:
    return INTENT_PREFIX + check_id("intentName", intent_name)


def parse_intent_topic(topic: str) -> str | None:
    """The intent name of `hermes/intent/<intentName>`, or None."""
    if topic.startswith(INTENT_PREFIX):
        name = topic[len(INTENT_PREFIX):]
        if name and not _FORBIDDEN.intersection(name):
            return name
    return None


def error_topic(component: str) -> str:
    return ERROR_PREFIX + check_id("component", component)


def audio_frame_topic(site_id: str) -> str:
    return f"hermes/audioServer/{check_id('siteId', site_id)}/audioFrame"


def parse_audio_frame_topic(topic: str) -> str | None:
    """The siteId of `hermes/audioServer/<siteId>/audioFrame`, or None."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "hermes" and parts[1] == "audioServer" and parts[3] == "audioFrame" and parts[2]:
        return parts[2]
    return None


def audio_session_frame_topic(site_id: str, session_id: str) -> str:
    return f"hermes/audioServer/{check_id('siteId', site_id)}/{check_id('sessionId', session_id)}/audioSessionFrame"


def parse_audio_session_frame_topic(topic: str) -> tuple[str, str] | None:
    """(siteId, sessionId) of `hermes/audioServer/<siteId>/<sessionId>/audioSessionFrame`, or None."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[:2] == ["hermes", "audioServer"] and parts[4] == "audioSessionFrame" and parts[2] and parts[3]:
        return parts[2], parts[3]
    return None


def hotword_detected_topic(wakeword_id: str) -> str:
    return f"hermes/hotword/{check_id('wakewordId', wakeword_id)}/detected"


def parse_hotword_detected_topic(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[:2] == ["hermes", "hotword"] and parts[3] == "detected" and parts[2]:
        return parts[2]
    return None
