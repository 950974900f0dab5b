"""One site's utterance in progress: endpointing and the site's recogniser.

Audio is validated and endpointed on the event loop (cheap: a WAV header and an RMS per 20 ms);
the recogniser runs in the ASR thread pool, one chunk after another through a queue so the
chunks of a site keep their order. Before speech starts only a short pre-roll is kept, so a
customer who pauses before speaking costs no decoding and no memory.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field

from collections.abc import Callable

from gateway.voice.engines.base import Recogniser, Transcript
from gateway.voice.settings import EndpointSettings
from gateway.voice.vad import Endpointer, VadState

PRE_ROLL_S = 0.4


class Snapshot:
    """Queue marker: decode what the recogniser has so far (speculation in trailing silence)."""


SNAPSHOT = Snapshot()


@dataclass
class Listening:
    site_id: str
    session_id: str
    endpointer: Endpointer
    started_at: float
    queue: asyncio.Queue[bytes | Snapshot | None] = field(default_factory=asyncio.Queue)
    speculate_ms: int | None = None
    speculated_end_ms: int | None = None  # the speech end the speculative decode saw
    pre_roll: deque[bytes] = field(default_factory=deque)
    pre_roll_s: float = 0.0
    audio_s: float = 0.0
    last_frame_at: float = 0.0  # perf_counter of the frame that ended the utterance
    worker: asyncio.Task[None] | None = None
    recogniser: Recogniser | None = None  # set by the pump once the pool has one for the site
    capture: list[bytes] | None = None  # only with the opt-in debug capture
    done: bool = False

    def feed(self, pcm: bytes) -> VadState:
        """Endpoint `pcm` and queue it for the recogniser; returns the endpointer's state."""
        self.audio_s += len(pcm) / 32000
        self.last_frame_at = time.perf_counter()
        before = self.endpointer.state
        state = self.endpointer.feed(pcm)
        if before is VadState.WAITING and state is VadState.WAITING:
            self.pre_roll.append(pcm)
            self.pre_roll_s += len(pcm) / 32000
            while self.pre_roll and self.pre_roll_s - len(self.pre_roll[0]) / 32000 >= PRE_ROLL_S:
                self.pre_roll_s -= len(self.pre_roll.popleft()) / 32000
            return state
        while self.pre_roll:
            self._queue(self.pre_roll.popleft())
        self.pre_roll_s = 0.0
        self._queue(pcm)
        endpointer = self.endpointer
        if (
            self.speculate_ms is not None
            and state is VadState.SPEECH
            and endpointer.trailing_silence_ms >= self.speculate_ms
            and self.speculated_end_ms != endpointer.speech_end_ms
        ):
            self.speculated_end_ms = endpointer.speech_end_ms
            self.queue.put_nowait(SNAPSHOT)
        return state

    @property
    def snapshot_holds(self) -> bool:
        """Whether the speculative decode heard all the speech (none came after it)."""
        return self.speculated_end_ms is not None and self.speculated_end_ms == self.endpointer.speech_end_ms

    def _queue(self, pcm: bytes) -> None:
        self.queue.put_nowait(pcm)
        if self.capture is not None:
            self.capture.append(pcm)

    @property
    def heard_speech(self) -> bool:
        return self.endpointer.speech_end_ms is not None


async def pump(listening: Listening, pool: Executor, make_recogniser: Callable[[], Recogniser]) -> None:
    """Get the site a recogniser, then hand it the site's chunks in order, off the event loop.
    Chunks that arrive meanwhile wait in the queue, so nothing said right away is lost."""
    loop = asyncio.get_running_loop()
    recogniser = listening.recogniser = await loop.run_in_executor(pool, make_recogniser)
    while (item := await listening.queue.get()) is not None:
        if isinstance(item, Snapshot):
            await loop.run_in_executor(pool, recogniser.snapshot)
        else:
            await loop.run_in_executor(pool, recogniser.accept, item)


def decode_offline(listening: Listening, recogniser: Recogniser) -> Transcript:
    """`pump` and `finish` in one go, in this thread: for tools that feed a whole recording
    first (benchmarks, accuracy tests). The queue's protocol stays in this module."""
    while not listening.queue.empty():
        item = listening.queue.get_nowait()
        if isinstance(item, Snapshot):
            recogniser.snapshot()  # speculation in the trailing silence, as in the gateway
        elif item is not None:
            recogniser.accept(item)
    return recogniser.finish(listening.snapshot_holds)


async def finish(listening: Listening, pool: Executor) -> Transcript:
    """Wait for the queued audio to be accepted, then decode the utterance."""
    listening.done = True
    listening.queue.put_nowait(None)
    assert listening.worker is not None
    await listening.worker
    assert listening.recogniser is not None
    return await asyncio.get_running_loop().run_in_executor(pool, listening.recogniser.finish, listening.snapshot_holds)


def new_listening(site_id: str, session_id: str, settings: EndpointSettings, now: float, capture: bool = False) -> Listening:
    return Listening(
        site_id, session_id, Endpointer(settings), now, capture=[] if capture else None,
        speculate_ms=settings.speculate_ms if settings.speculate_ms is not None and settings.speculate_ms < settings.silence_ms else None,
    )


def stop(listening: Listening) -> bool:
    """Stop feeding the recogniser; True if it was still running (then `release` it)."""
    if listening.done:
        return False
    listening.done = True
    listening.queue.put_nowait(None)
    return True


async def release(listening: Listening, pool: Executor) -> None:
    """Wait for the pump to end and close the recogniser (off the event loop)."""
    if listening.worker is not None:
        await listening.worker
    recogniser = listening.recogniser
    if recogniser is not None:
        await asyncio.get_running_loop().run_in_executor(pool, recogniser.close)
