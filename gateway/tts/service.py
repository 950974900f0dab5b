"""The Hermes TTS service: `hermes/tts/say` → synthesis → `playBytes` to the site → wait for the
speaker's `playFinished` → `hermes/tts/sayFinished`.

A reply is streamed where the voice streams (Piper, a sentence at a time): each part goes out as
its own `playBytes` as soon as it is synthesised and the part before it was played (ids `<id>`,
`<id>.1`, `<id>.2`, …), while the next part is synthesised; `sayFinished` follows the last part's
`playFinished`. A cached reply, and espeak-ng's, is one `playBytes` with the say's id. When the
in-process caller cancels its future (the dialogue manager does when the say's session ends: a
barge-in, an endSession, a timeout), the rest of the reply is neither synthesised nor played, and
`sayFinished` is published at once.

One worker per site speaks that site's requests in order (a speaker plays one reply at a time, so
a second reply waits until the first has been played). siteIds come from the network, so workers
are bounded: a worker ends when its site's queue is empty, and at most `tts.max_active_sites`
sites have one at a time; a say for another site beyond that gets `hermes/error/tts` and
`sayFinished` at once. A speaker that never answers playFinished
is given the reply's duration plus `tts.play_finished_timeout_s`; then `hermes/error/tts` and
`sayFinished` are published anyway, so whoever waits (the dialogue manager) never hangs.

In-process callers (the dialogue manager) use `submit()` and await the `SayOutcome`. They may
also publish the same say on the broker for observers (displays, logs, Rhasspy tools): submitted
with `published=True`, its copy arriving back over MQTT is recognised by its id and not spoken twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from gateway.hermes.playback import AudioPlayFinished, parse_play_finished_topic, play_bytes_topic
from gateway.hermes.tts import TTS_ERROR, TTS_SAY_FINISHED, SayOutcome, TtsError, TtsSay, TtsSayFinished
from gateway.model.deadletter import DeadLetterReason
from gateway.model.inbound import InboundMessage
from gateway.retained_commands import refuse_if_retained
from gateway.tts.ahead import read_ahead
from gateway.tts.engine import SynthesisError
from gateway.tts.settings import TtsSettings
from gateway.tts.synthesiser import Reply, Synthesiser
from gateway.waiting import within

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int], None]
DeadLetterSink = Callable[[InboundMessage, DeadLetterReason, str], None]


@dataclass
class TtsCounters:
    requests: int = 0
    played: int = 0
    cache_hits: int = 0
    play_timeouts: int = 0
    failures: int = 0
    rejected: int = 0
    stopped: int = 0  # replies cut short by their caller (the dialogue manager: the session ended)
    # say → first playBytes, milliseconds, the most recent requests
    say_to_play_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))


@dataclass(slots=True)
class _Job:
    say: TtsSay
    request_id: str
    received_at: float  # time.time() of arrival
    done: asyncio.Future[SayOutcome]
    stopping: bool = False  # set before its speaking task is cancelled on purpose


class TtsService:
    def __init__(self, settings: TtsSettings, synthesiser: Synthesiser, publish: Publish, dead_letter: DeadLetterSink) -> None:
        self._settings = settings
        self._synth = synthesiser
        self._publish = publish
        self._dead_letter = dead_letter
        self._inbox: asyncio.Queue[_Job] = asyncio.Queue()
        self._sites: dict[str, asyncio.Queue[_Job]] = {}
        self._in_hand: dict[str, int] = {}  # 1 while the site's worker is speaking a reply
        self._waiting: dict[tuple[str, str], asyncio.Future[None]] = {}
        # Ids of says submitted in-process and published for observers: their MQTT copy is skipped.
        self._echoes: OrderedDict[str, None] = OrderedDict()
        self.counters = TtsCounters()

    @property
    def active_sites(self) -> int:
        """Sites with a worker now: one speaking or with replies queued (idle workers end)."""
        return len(self._sites)

    # -- MQTT handlers (called in the event loop) --------------------------------------------
    def on_say(self, message: InboundMessage) -> None:
        # A retained say is replayed at every subscribe: spoken at every start, out of any
        # conversation. Refused (dead letter `retained_command`); a live one carries no retain flag.
        if refuse_if_retained(message, self._dead_letter):
            self.counters.rejected += 1
            return
        try:
            say = TtsSay.model_validate_json(message.payload)
        except ValidationError as exc:
            self.counters.rejected += 1
            detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors(include_url=False))
            log.warning("rejected tts/say: %s", detail)
            self._dead_letter(message, DeadLetterReason.INVALID_HERMES, f"hermes/tts/say: {detail}")
            self._answer_rejected(message.payload, detail)
            return
        if say.id is not None and say.id in self._echoes:
            del self._echoes[say.id]  # ours, spoken already (submitted in-process)
            return
        self.submit(say, received_at=message.received_at)

    def on_play_finished(self, message: InboundMessage) -> None:
        site = parse_play_finished_topic(message.topic)
        try:
            finished = AudioPlayFinished.model_validate_json(message.payload)
        except ValidationError as exc:
            self._dead_letter(message, DeadLetterReason.INVALID_HERMES, f"playFinished: {exc.errors(include_url=False)[0]['msg']}")
            return
        waiter = self._waiting.get((site or finished.siteId, finished.id or ""))
        if waiter is None:
            # Normal for audio we did not send (feedback beeps) or that timed out already.
            log.debug("playFinished for unknown request %s on %s", finished.id, site)
            return
        if not waiter.done():
            waiter.set_result(None)

    def _stop(self, job: _Job, speaking: asyncio.Task[None]) -> None:
        if job.stopping or speaking.done():
            return
        log.info("reply %s on %s stopped: its caller gave up", job.request_id, job.say.siteId)
        job.stopping = True
        speaking.cancel()

    # -- in-process API ---------------------------------------------------------------------
    def submit(self, say: TtsSay, received_at: float | None = None, published: bool = False) -> asyncio.Future[SayOutcome]:
        """Queue `say` for its site; the future resolves once sayFinished has been published.
        `published`: the caller also publishes it on hermes/tts/say (it must carry an id)."""
        if published:
            if say.id is None:
                raise ValueError("a say published for observers needs an id")
            self._echoes[say.id] = None
            while len(self._echoes) > 1000:  # copies that never came back (broker down)
                self._echoes.popitem(last=False)
        self.counters.requests += 1
        job = _Job(say, say.id or uuid.uuid4().hex, received_at or time.time(), asyncio.get_running_loop().create_future())
        self._inbox.put_nowait(job)
        return job.done

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while True:
                job = await self._inbox.get()
                site = job.say.siteId
                queue = self._sites.get(site)
                if queue is None:
                    if len(self._sites) >= self._settings.max_active_sites:
                        # siteIds come from the network: a worker per site at once is bounded too.
                        self._fail(job, f"{len(self._sites)} sites are speaking already (tts.max_active_sites); try again later")
                        continue
                    queue = self._sites[site] = asyncio.Queue()
                    self._in_hand[site] = 0
                    group.create_task(self._site_worker(site, queue), name=f"tts-{site}")
                # The reply being spoken plus those queued: counting both keeps the limit
                # independent of whether the worker has picked up its first job yet.
                accepted = queue.qsize() + self._in_hand[site]
                if accepted > self._settings.max_pending_per_site:
                    self._fail(job, f"site {site} has {accepted - 1} replies waiting already (tts.max_pending_per_site)")
                    continue
                queue.put_nowait(job)

    # -- the work ---------------------------------------------------------------------------
    async def _site_worker(self, site: str, queue: asyncio.Queue[_Job]) -> None:
        """Speaks the site's replies one after another; ends when the queue is empty (a worker
        per site ever seen would grow without bound, since siteIds come from the network)."""
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                del self._sites[site], self._in_hand[site]
                return
            self._in_hand[site] = 1
            try:
                await self._speak_stoppably(site, job)
            except Exception:
                # A bug met by one request must not silence every speaker: log it with its
                # traceback, answer the request (error + sayFinished) and go on with the next.
                log.exception("internal error speaking %s on %s", job.request_id, site)
                self._fail(job, "internal error in the TTS service")
            self._in_hand[site] = 0

    async def _speak_stoppably(self, site: str, job: _Job) -> None:
        """`_speak` as a task of its own, which an in-process caller that cancels its future (the
        dialogue manager, when the session ends) cancels: the rest of the reply is not synthesised."""
        task = asyncio.create_task(self._speak(job), name=f"tts-speak-{site}")
        job.done.add_done_callback(lambda done: self._stop(job, task) if done.cancelled() else None)
        try:
            await task  # our own cancellation (shutdown) reaches the task through this await
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not job.stopping or (current is not None and current.cancelling()):
                raise
            self.counters.stopped += 1
            self._finish(job, SayOutcome.FAILED)  # not played; sayFinished, since nobody may wait forever

    async def _speak(self, job: _Job) -> None:
        say = job.say
        parts = 0
        outcome = SayOutcome.PLAYED
        try:
            async with read_ahead(self._synth.stream(say.text, say.siteId, say.lang, say.volume)) as replies:
                async for part in replies:
                    # The first part keeps the say's id: a one-part reply looks as it always did.
                    request_id = job.request_id if parts == 0 else f"{job.request_id}.{parts}"
                    played = await self._play(job, request_id, part, first=parts == 0)
                    parts += 1
                    if not played:
                        outcome = SayOutcome.TIMEOUT  # a speaker that does not answer gets no more parts
                        break
        except SynthesisError as exc:
            if parts == 0:
                self._fail(job, str(exc))
                return
            self.counters.failures += 1
            log.warning("reply %s on %s broken off after %d parts: %s", job.request_id, say.siteId, parts, exc)
            self._publish_error(say, str(exc))
            outcome = SayOutcome.FAILED
        if outcome is SayOutcome.PLAYED:
            self.counters.played += 1
        self._finish(job, outcome)

    async def _play(self, job: _Job, request_id: str, part: Reply, first: bool) -> bool:
        """Publish one part and wait for its playFinished; False (and hermes/error/tts) when
        the speaker did not answer within the part's duration plus the timeout."""
        say = job.say
        key = (say.siteId, request_id)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[key] = waiter
        try:
            self._publish(play_bytes_topic(say.siteId, request_id), part.wav, 0)
            if first:
                latency_ms = (time.time() - job.received_at) * 1000
                self.counters.say_to_play_ms.append(latency_ms)
                self.counters.cache_hits += part.cached
                log.info(
                    "reply sent",
                    extra={"fields": {
                        "event": "tts_play", "site": say.siteId, "request": job.request_id, "engine": part.engine,
                        "language": part.language, "cached": part.cached, "first_part_audio_s": round(part.duration_s, 3),
                        "say_to_play_ms": round(latency_ms, 1),
                    }},
                )
            timeout = part.duration_s + self._settings.play_finished_timeout_s
            try:
                await within(waiter, timeout)
            except TimeoutError:
                self.counters.play_timeouts += 1
                log.warning("no playFinished from %s for %s within %.1fs", say.siteId, request_id, timeout)
                self._publish_error(say, f"no playFinished from site {say.siteId} within {timeout:.1f}s")
                return False
            return True
        finally:
            del self._waiting[key]

    def _fail(self, job: _Job, error: str) -> None:
        self.counters.failures += 1
        log.warning("cannot speak on %s: %s", job.say.siteId, error)
        self._publish_error(job.say, error)
        self._finish(job, SayOutcome.FAILED)

    def _finish(self, job: _Job, outcome: SayOutcome) -> None:
        say = job.say
        finished = TtsSayFinished(id=say.id or job.request_id, siteId=say.siteId, sessionId=say.sessionId)
        self._publish(TTS_SAY_FINISHED, finished.to_json(), 1)
        if not job.done.done():
            job.done.set_result(outcome)

    def _publish_error(self, say: TtsSay, error: str) -> None:
        message = TtsError(error=error, context=say.text[:200], siteId=say.siteId, sessionId=say.sessionId)
        self._publish(TTS_ERROR, message.to_json(), 1)

    def _answer_rejected(self, payload: bytes, detail: str) -> None:
        """A request we cannot read may still name its id and site: answer it (error, then
        sayFinished) so the sender does not wait for a reply that will never come."""
        try:
            raw = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
            return
        if not isinstance(raw, dict):
            return
        ids = {k: raw.get(k) for k in ("id", "siteId", "sessionId") if isinstance(raw.get(k), str)}
        if "id" not in ids:
            return
        site = ids.get("siteId", "default")
        error = TtsError(error=f"invalid say request: {detail}", siteId=site, sessionId=ids.get("sessionId"))
        self._publish(TTS_ERROR, error.to_json(), 1)
        finished = TtsSayFinished(id=ids["id"], siteId=site, sessionId=ids.get("sessionId"))
        self._publish(TTS_SAY_FINISHED, finished.to_json(), 1)
