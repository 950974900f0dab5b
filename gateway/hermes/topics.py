"""Every Hermes topic the gateway speaks, in one place.

Topics with ids inside (`hermes/audioServer/<siteId>/audioFrame`, `hermes/intent/<intentName>`,
`hermes/error/<component>`) are `TopicTemplate`s (gateway/hermes/base.py): built refusing ids
which would break the topic, parsed returning None for any other topic. The message classes name
their template as `TOPIC`; the functions below are the same templates for binary payloads (audio)
and for callers that hold only a topic.
"""

from __future__ import annotations

from gateway.hermes.base import TopicTemplate

ASR_START_LISTENING = "hermes/asr/startListening"
ASR_STOP_LISTENING = "hermes/asr/stopListening"
ASR_TEXT_CAPTURED = "hermes/asr/textCaptured"
ASR_ERROR = "hermes/error/asr"

NLU_QUERY = "hermes/nlu/query"
NLU_INTENT_NOT_RECOGNIZED = "hermes/nlu/intentNotRecognized"
NLU_ERROR = "hermes/error/nlu"
INTENT_PREFIX = "hermes/intent/"
INTENT = TopicTemplate("hermes/intent/{intentName}")
INTENT_SUBSCRIPTION = "hermes/intent/#"

DM_START_SESSION = "hermes/dialogueManager/startSession"
DM_CONTINUE_SESSION = "hermes/dialogueManager/continueSession"
DM_END_SESSION = "hermes/dialogueManager/endSession"
DM_SESSION_STARTED = "hermes/dialogueManager/sessionStarted"
DM_SESSION_ENDED = "hermes/dialogueManager/sessionEnded"
DM_SESSION_QUEUED = "hermes/dialogueManager/sessionQueued"
DM_ERROR = "hermes/error/dialogueManager"
ERROR = TopicTemplate("hermes/error/{component}")

HOTWORD_DETECTED = TopicTemplate("hermes/hotword/{wakewordId}/detected")
HOTWORD_DETECTED_SUBSCRIPTION = HOTWORD_DETECTED.subscription
# The dialogue manager turns a site's wake word off during its session (the satellite must not
# wake on its own reply) and on again after it, as Rhasspy's does.
HOTWORD_TOGGLE_OFF = "hermes/hotword/toggleOff"
HOTWORD_TOGGLE_ON = "hermes/hotword/toggleOn"
AUDIO_FRAME = TopicTemplate("hermes/audioServer/{siteId}/audioFrame")
AUDIO_FRAME_SUBSCRIPTION = AUDIO_FRAME.subscription
AUDIO_SESSION_FRAME = TopicTemplate("hermes/audioServer/{siteId}/{sessionId}/audioSessionFrame")
AUDIO_SESSION_FRAME_SUBSCRIPTION = AUDIO_SESSION_FRAME.subscription
ERROR_PREFIX = "hermes/error/"


def intent_topic(intent_name: str) -> str:
    return INTENT.format(intentName=intent_name)


def parse_intent_topic(topic: str) -> str | None:
    """The intent name of `hermes/intent/<intentName>`, or None."""
    ids = INTENT.parse(topic)
    return None if ids is None else ids["intentName"]


def error_topic(component: str) -> str:
    return ERROR.format(component=component)


def audio_frame_topic(site_id: str) -> str:
    return AUDIO_FRAME.format(siteId=site_id)


def parse_audio_frame_topic(topic: str) -> str | None:
    """The siteId of `hermes/audioServer/<siteId>/audioFrame`, or None."""
    ids = AUDIO_FRAME.parse(topic)
    return None if ids is None else ids["siteId"]


def audio_session_frame_topic(site_id: str, session_id: str) -> str:
    return AUDIO_SESSION_FRAME.format(siteId=site_id, sessionId=session_id)


def parse_audio_session_frame_topic(topic: str) -> tuple[str, str] | None:
    """(siteId, sessionId) of `hermes/audioServer/<siteId>/<sessionId>/audioSessionFrame`, or None."""
    ids = AUDIO_SESSION_FRAME.parse(topic)
    return None if ids is None else (ids["siteId"], ids["sessionId"])


def hotword_detected_topic(wakeword_id: str) -> str:
    return HOTWORD_DETECTED.format(wakewordId=wakeword_id)


def parse_hotword_detected_topic(topic: str) -> str | None:
    ids = HOTWORD_DETECTED.parse(topic)
    return None if ids is None else ids["wakewordId"]
