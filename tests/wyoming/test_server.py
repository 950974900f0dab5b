"""The Wyoming server as Home Assistant's Wyoming integration uses it, through the `wyoming`
package's own client: describe, speech-to-text at a rate and layout the recogniser does not use,
text-to-speech decoded back to words, intent recognition and intent handling."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soxr
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe, Info
from wyoming.intent import Intent, NotRecognized, Recognize
from wyoming.tts import Synthesize, SynthesizeVoice

from gateway.app import Gateway
from gateway.voice.effects import ASK_BACK, DECLINED, NOT_UNDERSTOOD
from skills.staff import COMING
from tests.support.clients import Collector
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.tts.speech import make_decoder, recognise
from tests.voice.support import AUDIO_DIR

READ_TIMEOUT_S = 60  # a loaded 2-core machine decodes slowly; a wrong answer fails at once
# No sentence has it ("need ... here"); the skills' key words find a staff call, 0.8 sure at most.
STAFF_BY_KEY_WORDS = "i need a colleague here"


@pytest.fixture
async def server(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[tuple[Gateway, int]]:
    settings = gateway_settings(broker, tmp_path, wyoming={"enabled": True, "server": {"enabled": True, "port": 0}})
    async with running_gateway(settings, timeout=60) as runtime:
        parts = runtime.service("wyoming")
        await parts.server_started.wait()
        yield runtime, parts.server.port


async def _client(port: int) -> AsyncTcpClient:
    client = AsyncTcpClient("127.0.0.1", port, connect_timeout=10, read_timeout=READ_TIMEOUT_S)
    await client.connect()
    return client


async def _read(client: AsyncTcpClient) -> Event:
    event = await client.read_event()
    assert event is not None, "the server closed the connection"
    return event


async def test_describe_lists_asr_tts_intent_and_handle(server: tuple[Gateway, int]) -> None:
    _, port = server
    client = await _client(port)
    try:
        await client.write_event(Describe().event())
        event = await _read(client)
    finally:
        await client.disconnect()
    assert Info.is_type(event.type)
    info = Info.from_event(event)
    assert [lang for model in info.asr[0].models for lang in model.languages] == ["en"]
    assert info.asr[0].installed and info.asr[0].models[0].installed
    assert [voice.name for voice in info.tts[0].voices] == ["touchgate-en"]
    assert info.intent[0].models[0].languages == ["en"]
    assert info.handle[0].models[0].languages == ["en"]


def _as_44k_stereo(path: Path) -> bytes:
    """The committed 16 kHz mono recording as a USB microphone might send it: 44.1 kHz stereo."""
    with wave.open(str(path)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float64) / 32768
    resampled = np.clip(soxr.resample(samples, 16000, 44100), -1, 1)
    stereo = np.repeat(resampled[:, None], 2, axis=1)  # left and right, interleaved
    return (stereo * 32767).astype("<i2").tobytes()


async def test_transcribe_takes_44k_stereo_audio_and_returns_the_transcript(server: tuple[Gateway, int]) -> None:
    _, port = server
    audio = _as_44k_stereo(AUDIO_DIR / "en_where_bread.wav")
    client = await _client(port)
    try:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=44100, width=2, channels=2).event())
        step = 1024 * 4  # 1024 stereo frames
        for start in range(0, len(audio), step):
            await client.write_event(AudioChunk(rate=44100, width=2, channels=2, audio=audio[start : start + step]).event())
        await client.write_event(AudioStop().event())
        event = await _read(client)
    finally:
        await client.disconnect()
    assert Transcript.is_type(event.type), event
    assert Transcript.from_event(event).text == "where can i find bread"


async def test_synthesize_streams_audio_that_decodes_back_to_the_words(server: tuple[Gateway, int]) -> None:
    _, port = server
    client = await _client(port)
    chunks: list[bytes] = []
    try:
        await client.write_event(Synthesize(text="your parcel is ready", voice=SynthesizeVoice(name="touchgate-en")).event())
        start = AudioStart.from_event(await _read(client))
        while AudioChunk.is_type((event := await _read(client)).type):
            chunk = AudioChunk.from_event(event)
            assert (chunk.rate, chunk.width, chunk.channels) == (start.rate, start.width, start.channels)
            chunks.append(chunk.audio)
        assert AudioStop.is_type(event.type), event
    finally:
        await client.disconnect()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setframerate(start.rate)
        wav.setsampwidth(start.width)
        wav.setnchannels(start.channels)
        wav.writeframes(b"".join(chunks))
    assert recognise(make_decoder(), buffer.getvalue()) == "your parcel is ready"


async def test_recognize_names_the_intent_and_its_slots_or_says_not_recognized(server: tuple[Gateway, int]) -> None:
    _, port = server
    client = await _client(port)
    try:
        await client.write_event(Recognize(text="where is the coffee").event())
        found = await _read(client)
        await client.write_event(Recognize(text="play some music").event())
        not_found = await _read(client)
    finally:
        await client.disconnect()
    assert Intent.is_type(found.type), found
    intent = Intent.from_event(found)
    assert intent.name == "WhereIsProduct"
    assert [(entity.name, entity.value) for entity in intent.entities] == [("product", "coffee")]
    assert NotRecognized.is_type(not_found.type), not_found


async def test_a_transcript_is_handled_by_the_skill_or_not_handled(server: tuple[Gateway, int]) -> None:
    """Home Assistant's conversation agent sends the user's text as a `transcript` event."""
    runtime, port = server
    assert runtime.service("voice") is not None
    intents: list[str] = []
    runtime.service("voice").on_intent.append(lambda session, match: intents.append(match.intent))
    client = await _client(port)
    try:
        await client.write_event(Transcript(text="where is the coffee", language="en").event())
        handled = await _read(client)
        await client.write_event(Transcript(text="open the garage door", language="en").event())
        not_handled = await _read(client)
    finally:
        await client.disconnect()
    assert Handled.is_type(handled.type), handled
    assert (Handled.from_event(handled).text or "").startswith("You will find coffee in aisle"), handled
    assert intents == ["WhereIsProduct"], "the rules saw the intent, as for a Hermes turn"
    assert NotHandled.is_type(not_handled.type), not_handled
    assert NotHandled.from_event(not_handled).text == NOT_UNDERSTOOD["en"], "what the speaker can help with"


async def test_text_is_read_as_customers_word_it_and_an_unsure_staff_call_is_asked_back(
    broker: Mosquitto, server: tuple[Gateway, int]
) -> None:
    """Assist's text (its own recogniser's, or typed) is the customer's wording: polite wrappers
    and key words are understood (`Matcher.match_text`), but a staff call only key words found
    (0.8, below voice.guard.effectful_min_confidence) is not recognised, and when handled is asked
    back; the answer is the next text of the same conversation (Home Assistant's
    `conversation_id`, or the question's own context sent back)."""
    runtime, port = server
    intents: list[str] = []
    runtime.service("voice").on_intent.append(lambda session, match: intents.append(match.intent))
    staff = Collector(broker.host, broker.port, ["touchgate/+/staff"], client_id="staff-pager")
    client = await _client(port)

    async def handle(text: str, context: dict[str, object] | None = None) -> Event:
        await client.write_event(Transcript(text=text, language="en", context=context).event())
        return await _read(client)

    try:
        await client.write_event(Recognize(text="sorry, could you tell me where the eggs are, thanks").event())
        wrapped = await _read(client)
        await client.write_event(Recognize(text=STAFF_BY_KEY_WORDS).event())
        unsure = await _read(client)
        # Home Assistant sends its conversation id with every turn of a conversation.
        home_assistant = {"conversation_id": "01JB0000000000000000000000", "device_id": "kitchen-speaker"}
        asked = await handle(STAFF_BY_KEY_WORDS, home_assistant)
        confirmed = await handle("yes", home_assistant)
        answered_twice = await handle("yes", home_assistant)
        # A client without conversation ids sends back the question's own context.
        asked_again = await handle(STAFF_BY_KEY_WORDS)
        declined = await handle("no", Handled.from_event(asked_again).context)
        forged = await handle("yes", {"touchgate_asked_back": "a key nobody was given"})
        await client.write_event(Event(type="transcript", data={"text": "yes", "context": ["not", "a", "mapping"]}))
        junk_context = await _read(client)
        wrong_key_type = await handle("yes", {"touchgate_asked_back": {"nested": 1}})
    finally:
        await client.disconnect()
    try:
        assert Intent.is_type(wrapped.type), wrapped
        assert [(e.name, e.value) for e in Intent.from_event(wrapped).entities] == [("product", "eggs")]
        assert NotRecognized.is_type(unsure.type), unsure
        assert Handled.is_type(asked.type) and Handled.from_event(asked).text == ASK_BACK["CallStaff"]["en"], asked
        assert Handled.is_type(confirmed.type) and Handled.from_event(confirmed).text == COMING["en"], confirmed
        call = await asyncio.to_thread(staff.wait_for, lambda m: m.topic == "touchgate/homeassistant/staff")
        assert json.loads(call[0].payload)["kind"] == "staff_call"
        assert Handled.from_event(confirmed).context is None, "no question is pending after the yes"
        for not_an_answer in (answered_twice, forged, junk_context, wrong_key_type):
            assert NotHandled.is_type(not_an_answer.type) and NotHandled.from_event(not_an_answer).text == NOT_UNDERSTOOD["en"]
        assert Handled.from_event(asked_again).context, "the key of the question, for a client without conversation ids"
        assert Handled.from_event(declined).text == DECLINED["en"], declined
        assert intents == ["CallStaff"], "only the confirmed call reached the rules (recognize runs no rules)"
    finally:
        staff.close()
