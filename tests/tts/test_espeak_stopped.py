"""A reply stopped while espeak-ng is still writing it must not silence the speaker.

The dialogue manager cancels a reply when its session ends. With espeak-ng, the process was
killed and `wait()`ed for; on Python 3.11 that can wait for ever on a pipe nobody reads
(gateway/processes.py), and the site's TTS worker, and every later reply to that speaker, with
it. Real espeak-ng, the real synthesiser and TTS service; the publish port is a queue."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.hermes.playback import parse_play_bytes_topic
from gateway.hermes.tts import TTS_SAY_FINISHED, SayOutcome, TtsSay
from gateway.tts.cache import ReplyCache
from gateway.tts.espeak import EspeakEngine
from gateway.tts.service import TtsService
from gateway.tts.settings import TtsSettings
from gateway.tts.synthesiser import Synthesiser
from tests.support.children import busy_loop, bytes_written, children, new_children_named
from tests.support.gateway import wait_until
from tests.tts.test_service_seam import Broker
from tests.tts.test_streaming import play_finished


async def test_a_reply_stopped_mid_synthesis_leaves_the_site_speaking() -> None:
    engine = EspeakEngine("en-us")
    await engine.start()
    settings = TtsSettings(play_finished_timeout_s=5.0, max_text_chars=100_000)
    service = TtsService(settings, Synthesiser(settings, {"en": engine}, ReplyCache(8, 50_000_000), lambda site: "en"), broker := Broker(), lambda m, r, d: None)
    running = asyncio.create_task(service.run())
    slow = asyncio.create_task(busy_loop())
    try:
        before = set(children())
        long_reply = "The shop is open from nine in the morning until eight in the evening. " * 400
        done = service.submit(TtsSay(text=long_reply, siteId="till", id="long", sessionId="s1"))
        await wait_until(lambda: any(bytes_written(pid) > 1_000_000 for pid in new_children_named("espeak-ng", before)) or done.done(), timeout=20)
        assert not done.done(), "espeak-ng finished before the reply could be stopped"
        done.cancel()  # the session ended
        _, payload = await broker.next(TTS_SAY_FINISHED)
        assert b'"long"' in payload

        after = service.submit(TtsSay(text="Goodbye and thank you.", siteId="till", id="next"))
        topic, _ = await broker.next("hermes/audioServer/")
        assert parse_play_bytes_topic(topic) == ("till", "next")
        play_finished(service, "till", "next")
        assert await asyncio.wait_for(after, 10) is SayOutcome.PLAYED
        assert service.counters.stopped == 1
        assert not new_children_named("espeak-ng", before)
    finally:
        slow.cancel()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
