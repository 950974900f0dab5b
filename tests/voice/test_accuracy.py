"""Intent accuracy of PocketSphinx on every committed English utterance, through the same
endpointing, recogniser, understanding and effect guard the gateway uses (frames as a speaker
sends them). These utterances are tuning data; the held-out figures come from bench/voice.py."""

from __future__ import annotations

from gateway.voice.effects import EffectGuard
from gateway.voice.engines.factory import load_engine
from gateway.voice.listener import Snapshot, new_listening
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import build_intent_model
from gateway.voice.understand import match_transcript
from gateway.voice.vad import VadState
from gateway.audio import read_frame
from tests.voice.support import frames, utterances


def test_pocketsphinx_accuracy_and_rejection() -> None:
    settings = VoiceSettings()
    model, _ = build_intent_model(settings)
    engine = load_engine(settings, model)
    recogniser = engine.recogniser()
    in_grammar = right = rejected = off_grammar = effectful_wrong = 0
    wrong: list[str] = []
    for utterance in utterances("en"):
        listening = new_listening("s", "x", settings.endpoint, 0.0)
        state = VadState.WAITING
        for frame in frames(utterance.pcm()):
            state = listening.feed(read_frame(frame, settings.max_frame_bytes).pcm)
            if state is not VadState.WAITING and state is not VadState.SPEECH:
                break
        assert state is VadState.ENDED, utterance.name  # endpointing ended every utterance
        while not listening.queue.empty():
            item = listening.queue.get_nowait()
            if isinstance(item, Snapshot):
                recogniser.snapshot()  # speculation in the trailing silence, as in the gateway
            elif item is not None:
                recogniser.accept(item)
        transcript = recogniser.finish(listening.snapshot_holds)
        heard = match_transcript(model.matcher, transcript, None, engine.min_confidence, settings.guard.passes())
        match, _ = EffectGuard(settings.guard).check(utterance.name, "en", heard, model.matcher)
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
