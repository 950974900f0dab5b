"""Issue 10's acceptance: the test plays a Rhasspy satellite (wake word, microphone, loudspeaker)
through a real Mosquitto; the gateway is its dialogue manager, ASR, NLU, skills and TTS."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pocketsphinx import Decoder

from gateway.hermes.playback import parse_play_bytes_topic
from tests.dialogue.satellite import Satellite, wav_seconds
from tests.dialogue.speech import words_of
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto


async def test_wake_word_to_spoken_answer(broker: Mosquitto, tmp_path: Path, replies: Decoder) -> None:
    sat = Satellite(broker.host, broker.port, "entrance", answer_play=False)
    run = asyncio.to_thread
    try:
        async with running_gateway(gateway_settings(broker, tmp_path), timeout=30):
            before = sat.count()
            session = await run(sat.wake)
            toggle = await run(sat.json_on, "hermes/hotword/toggleOff", 10.0, before, siteId="entrance")
            assert toggle["reason"] == "dialogueSession"
            await run(sat.listening, session, before)
            await run(sat.say_utterance, "en_where_milk")

            captured = await run(sat.json_on, "hermes/asr/textCaptured", 10.0, before, sessionId=session)
            assert captured["text"] == "where is the milk" and captured["siteId"] == "entrance"
            intent = await run(sat.json_on, "hermes/intent/WhereIsProduct", 10.0, before, sessionId=session)
            assert intent["slots"][0]["value"]["value"] == "milk"
            play = await run(sat.wait_play_bytes, before)
            site, request_id = parse_play_bytes_topic(play.topic) or ("", "")
            assert site == "entrance"
            # The reply is checked, not just its existence: decoded back to its key words.
            assert 1.0 < wav_seconds(play.payload) < 6.0
            assert await run(words_of, replies, play.payload) == "you will find milk in aisle three"
            say = await run(sat.json_on, "hermes/tts/say", 10.0, before, sessionId=session)
            assert say["id"] == request_id and say["text"] == "You will find milk in aisle 3."

            # Nothing ends while the speaker is still playing the reply.
            await asyncio.sleep(0.3)
            assert not {"hermes/tts/sayFinished", "hermes/dialogueManager/sessionEnded"} & set(sat.topics_since(before))
            after_play = sat.count()
            await run(sat.play_finished, request_id)
            finished = await run(sat.json_on, "hermes/tts/sayFinished", 10.0, after_play, id=request_id)
            assert finished["sessionId"] == session
            ended = await run(sat.ended, session)
            assert ended["termination"]["reason"] == "nominal" and ended["siteId"] == "entrance"
            await run(sat.json_on, "hermes/hotword/toggleOn", 10.0, after_play, siteId="entrance")
            order = [t for t in sat.topics_since(before) if t.startswith(("hermes/dialogueManager/", "hermes/asr/", "hermes/intent/", "hermes/tts/", "hermes/audioServer/entrance/play"))]
            assert order == [
                "hermes/dialogueManager/sessionStarted", "hermes/asr/startListening", "hermes/asr/textCaptured",
                "hermes/intent/WhereIsProduct", "hermes/tts/say", f"hermes/audioServer/entrance/playBytes/{request_id}",
                "hermes/audioServer/entrance/playFinished", "hermes/tts/sayFinished", "hermes/dialogueManager/sessionEnded",
            ], order
    finally:
        sat.close()


async def test_follow_up_question_with_continue_session(broker: Mosquitto, tmp_path: Path, replies: Decoder) -> None:
    """An external skill (the test) answers OrderDrink: it asks "which size?" with an intent
    filter, the customer's off-filter answer is not recognised (the skill asked to hear about
    that), it asks again, and ends the session with its answer."""
    skills = ["skills.store_info", "skills.help", "tests.dialogue.drinks_skill"]
    sat = Satellite(broker.host, broker.port, "cafe")
    run = asyncio.to_thread
    try:
        async with running_gateway(gateway_settings(broker, tmp_path, voice={"skills": skills}), timeout=30):
            before = sat.count()
            session = await run(sat.wake)
            await run(sat.listening, session, before)
            await run(sat.say_utterance, "en_off_tea")
            intent = await run(sat.json_on, "hermes/intent/OrderDrink", 10.0, before, sessionId=session)
            assert intent["input"] == "i would like a cup of tea please"

            asked = sat.count()
            ask = {"sessionId": session, "text": "Which size would you like?", "intentFilter": ["OrderDrink"], "sendIntentNotRecognized": True, "customData": "order-7"}
            await run(sat.send, "hermes/dialogueManager/continueSession", ask)
            question = await run(sat.wait_play_bytes, asked)
            assert await run(words_of, replies, question.payload) == "which size would you like"
            await run(sat.listening, session, asked)  # only after the question was played
            await run(sat.say_utterance, "en_help_2")  # "what can you do": not an OrderDrink
            missed = await run(sat.json_on, "hermes/nlu/intentNotRecognized", 10.0, asked, sessionId=session)
            assert missed["customData"] == "order-7"
            assert "hermes/dialogueManager/sessionEnded" not in sat.topics_since(asked)

            asked = sat.count()
            await run(sat.send, "hermes/dialogueManager/continueSession", {**ask, "sendIntentNotRecognized": False})
            await run(sat.listening, session, asked)
            await run(sat.say_utterance, "en_off_tea")
            again = await run(sat.json_on, "hermes/intent/OrderDrink", 10.0, asked, sessionId=session)
            assert again["customData"] == "order-7"
            done = sat.count()
            await run(sat.send, "hermes/dialogueManager/endSession", {"sessionId": session, "text": "Your tea is coming."})
            answer = await run(sat.wait_play_bytes, done)
            assert await run(words_of, replies, answer.payload) == "your tea is coming"
            ended = await run(sat.ended, session)
            assert ended["termination"]["reason"] == "nominal" and ended["customData"] == "order-7"
            assert len(sat.play_bytes(before)) == 3  # the question twice, the answer once
    finally:
        sat.close()
