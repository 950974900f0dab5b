"""Intent accuracy of PocketSphinx on every committed English utterance, through the same
endpointing, recogniser, understanding and effect guard the gateway uses (frames as a speaker
sends them). These utterances are tuning data; the held-out figures come from bench/voice.py."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.voice.effects import EffectGuard
from gateway.voice.engines.factory import load_engine
from gateway.voice.listener import decode_offline, new_listening
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import build_intent_model
from gateway.voice.understand import match_transcript
from gateway.voice.vad import VadState
from gateway.audio import read_frame
from tests.voice.support import Utterance, frames, utterances


@pytest.fixture(scope="module")
def gateway() -> tuple[VoiceSettings, Any, Any]:
    """The gateway's defaults: PocketSphinx with its calibrated decision (engines/decision.yaml)."""
    settings = VoiceSettings()
    model, _ = build_intent_model(settings)
    engine = load_engine(settings, model)
    assert engine.decision is not None
    return settings, model, engine


def outcome(gateway: tuple[VoiceSettings, Any, Any], utterance: Utterance) -> tuple[Any, Any, Any]:
    """(transcript, what the gateway acts on, its ask-back reply) for one committed utterance."""
    settings, model, engine = gateway
    recogniser = engine.recogniser()
    listening = new_listening("s", "x", settings.endpoint, 0.0)
    state = VadState.WAITING
    for frame in frames(utterance.pcm()):
        state = listening.feed(read_frame(frame, settings.max_frame_bytes).pcm)
        if state is not VadState.WAITING and state is not VadState.SPEECH:
            break
    assert state is VadState.ENDED, utterance.name  # endpointing ended every utterance
    transcript = decode_offline(listening, recogniser)
    recogniser.close()
    heard = match_transcript(model.matcher, transcript, None, engine.min_confidence, settings.guard.passes(), engine.decision)
    match, ask = EffectGuard(settings.guard).check(utterance.name, "en", heard, model.matcher)
    return transcript, match, ask


def test_pocketsphinx_accuracy_and_rejection(gateway: tuple[VoiceSettings, Any, Any]) -> None:
    model = gateway[1]
    in_grammar = right = rejected = off_grammar = effectful_wrong = 0
    wrong: list[str] = []
    for utterance in utterances("en"):
        transcript, match, _ = outcome(gateway, utterance)
        got = match.intent if match else None
        slots = {s.name: str(s.value) for s in match.slots} if match else {}
        if utterance.intent is None:
            off_grammar += 1
            rejected += got is None
        else:
            in_grammar += 1
            right += got == utterance.intent and slots == utterance.slots
        if got != utterance.intent:
            wrong.append(f"{utterance.name}: {transcript.text!r} → {got}")
            effectful_wrong += got in model.matcher.effectful
    assert in_grammar >= 25 and off_grammar >= 8
    assert right / in_grammar >= 0.85, wrong
    assert effectful_wrong == 0, wrong  # a misheard request never calls staff or erases anything
    # No off-grammar utterance of these 8 is turned into an intent (before the open pass ran only
    # where the grammar pass is unsure, one was: "the weather is lovely in paris today" heard as
    # "uh where the eggs are"; the held-out false-accept rate is bench/voice.py's figure).
    assert off_grammar - rejected == 0, wrong


def test_near_misses_never_act_on_an_effectful_intent(gateway: tuple[VoiceSettings, Any, Any]) -> None:
    """Off-topic speech with the words of effectful intents ("i forgot my keys", "call my
    brother", "delete the photos"): whatever the passes hear, nothing is erased, no staff is
    called, no points are spent. Asking back is allowed (it acts on nothing)."""
    model = gateway[1]
    acted = {}
    for utterance in utterances("en", "near_miss.tsv"):
        transcript, match, _ = outcome(gateway, utterance)
        acted[utterance.name] = (transcript.text, match.intent if match else None)
    assert len(acted) == 6
    assert not [name for name, (_, intent) in acted.items() if intent in model.matcher.effectful], acted
