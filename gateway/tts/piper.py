"""Piper (neural TTS, onnxruntime) for languages where a voice model is configured.

The model is loaded once at start, off the event loop, and warmed up. Synthesis runs in one
worker thread, one sentence at a time: two at once on a Raspberry Pi would only slow both, and
onnxruntime gets one thread that does not spin-wait (`threads`, see `_load`). A reply is streamed: Piper synthesises sentence by sentence,
and each sentence is handed out as soon as it is ready, so the first audio leaves after the first
sentence rather than after the whole reply. Each sentence is its own job on the worker, so replies
for other sites interleave by sentence, and a reply whose reader stops asks for no more.

Replies made ahead (gateway/tts/prepare.py) run in a second thread at the lowest CPU priority
(nice 19): on a busy CPU they take only what the replies customers wait for, and speech
recognition, leave. The voice is shared: onnxruntime's session runs concurrent calls, and Piper
phonemises under its own lock (espeak-ng is not thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import AsyncGenerator, Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gateway.tts.engine import SynthesisError, join_pcm, synthesize_whole
from gateway.audio import AudioFormat, Pcm
from gateway.waiting import within


_WARM_UP_TEXT = "Hello."
# A first sentence longer than this many words is spoken from its first clause on its own: Piper's
# time grows with the sentence's length, and the first audio waits for the whole first part.
# bench/tts.py measures it ("long" against "long_unsplit"; figures in docs/voice.md). Later
# sentences stay whole (they are synthesised while earlier ones play).
SPLIT_FIRST_SENTENCE_WORDS = 8
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_CLAUSE_END = re.compile(r"[,;:]\s")  # "1,000" is not a clause end


def first_clause(text: str) -> tuple[str, str] | None:
    """(the first clause, the rest) when the first sentence is long and has a clause mark after
    its second word; None otherwise. Nothing is dropped: head + " " + rest == text (stripped)."""
    text = text.strip()
    end = _SENTENCE_END.search(text)
    sentence = text[: end.end()] if end else text
    if len(sentence.split()) <= SPLIT_FIRST_SENTENCE_WORDS:
        return None
    for mark in _CLAUSE_END.finditer(sentence):
        head, rest = text[: mark.start() + 1], text[mark.end() :].strip()
        if len(head.split()) >= 2 and rest:
            return head, rest
    return None


class PiperEngine:
    name = "piper"

    def __init__(
        self, model: Path, config: Path | None = None, length_scale: float | None = None, timeout_s: float = 10.0,
        split_first_clause: bool = True, threads: int = 1,
    ) -> None:
        self._model = model
        self._threads = threads
        self._split_first_clause = split_first_clause  # off only to measure what it gains
        self._config = config or Path(f"{model}.json")
        self._length_scale = length_scale
        self._timeout_s = timeout_s
        self._voice: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper-ahead", initializer=_lowest_priority)
        self._key = f"piper:{model.name}:{length_scale}"
        self.warm_up_s: float | None = None  # how long the warm-up synthesis at start took
        self.sentences_synthesised = 0  # all replies' sentences so far (tests and benchmarks read it)

    @property
    def voice_key(self) -> str:
        return self._key

    async def start(self) -> None:
        for path in (self._model, self._config):
            if not path.is_file():
                raise SynthesisError(f"Piper voice file {path} does not exist")
        loop = asyncio.get_running_loop()
        self._voice = await loop.run_in_executor(self._executor, self._load)
        # One sentence spoken and thrown away at start: onnxruntime allocates its buffers and
        # settles its kernels on the first run, which otherwise lands on the first customer's reply.
        started = loop.time()
        await self.synthesize(_WARM_UP_TEXT)
        self.warm_up_s = loop.time() - started
        # The voice's identity makes the cache key: a hash of the model's and the config's
        # contents (the config's scales shape the audio too), so a replaced or retuned voice is
        # never served from replies made by the old one, whatever the files' names and dates.
        digest = await loop.run_in_executor(self._executor, voice_identity, self._model, self._config)
        self._key = f"piper:{self._model.name}:{digest}:{self._length_scale}"

    def _load(self) -> Any:
        try:
            import onnxruntime
            from piper import PiperConfig, PiperVoice  # optional dependency: piper-tts
        except ImportError as exc:
            raise SynthesisError("Piper voice configured but piper-tts is not installed (pip install piper-tts)") from exc
        # PiperVoice.load would make the session with onnxruntime's defaults: a thread per core
        # that spin-waits between operators. On a Pi that also recognises speech, or under a CPU
        # quota, the spinning burns the CPU the synthesis needs: measured under bench/throttle.py
        # (loop 1.5 s) a short sentence took 2.65 s with the defaults, 1.43 s with one thread and
        # no spinning (docs/voice.md).
        options = onnxruntime.SessionOptions()
        if self._threads > 0:  # 0: onnxruntime's defaults (bench/tts.py measures them beside)
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            config = PiperConfig.from_dict(json.loads(self._config.read_text(encoding="utf-8")))
            session = onnxruntime.InferenceSession(str(self._model), sess_options=options, providers=["CPUExecutionProvider"])
        except (OSError, ValueError, KeyError, TypeError) + _onnx_errors() as exc:
            raise SynthesisError(f"cannot load Piper voice {self._model}: {exc}") from exc
        return PiperVoice(session=session, config=config)

    async def synthesize(self, text: str) -> Pcm:
        """The whole reply in one piece (the warm-up, tests)."""
        return await synthesize_whole(self, text)

    async def synthesize_in_background(self, text: str) -> Pcm:
        """The whole of `text` in the low-priority thread (replies made ahead). No timeout: at
        the lowest priority on a busy CPU it may wait long, and nobody waits for it."""
        if self._voice is None:
            raise SynthesisError("Piper engine used before start()")
        loop = asyncio.get_running_loop()
        pieces = await loop.run_in_executor(self._background, self._synthesize_all, text)
        return join_pcm(pieces)

    def _synthesize_all(self, text: str) -> list[Pcm]:
        sentences = self._sentences(text)
        pieces: list[Pcm] = []
        while (pcm := self._next_sentence(sentences, text)) is not None:
            pieces.append(pcm)
        return pieces

    async def stream(self, text: str) -> AsyncGenerator[Pcm, None]:
        """One Pcm per sentence, each synthesised only when the reader asks for it. `timeout_s`
        bounds each sentence. Cancelled or closed early, the sentence being synthesised still
        finishes in the worker (onnxruntime cannot be interrupted), the rest are never started."""
        if self._voice is None:
            raise SynthesisError("Piper engine used before start()")
        loop = asyncio.get_running_loop()
        sentences = self._sentences(text)
        produced = False
        try:
            while True:
                try:
                    pcm = await within(loop.run_in_executor(self._executor, self._next_sentence, sentences, text), self._timeout_s)
                except TimeoutError:
                    raise SynthesisError(f"Piper took longer than {self._timeout_s}s for one sentence") from None
                if pcm is None:
                    break
                produced = True
                yield pcm
        finally:
            # Queued behind a sentence still running (a generator cannot be closed while it runs):
            # the one worker runs jobs in order. After close(), the executor refuses: nothing to free.
            with contextlib.suppress(RuntimeError):
                self._executor.submit(sentences.close)
        if not produced:
            raise SynthesisError(f"Piper produced no audio for {text!r}")

    def _sentences(self, text: str) -> Generator[Any, None, None]:
        """Piper's own generator (it phonemises the text when first asked, then runs the model
        once per sentence as it is iterated); a long first sentence's first clause first."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=self._length_scale)
        split = first_clause(text) if self._split_first_clause else None
        if split is not None:
            yield from self._voice.synthesize(split[0], syn_config=config)
            text = split[1]
        yield from self._voice.synthesize(text, syn_config=config)

    def _next_sentence(self, sentences: Generator[Any, None, None], text: str) -> Pcm | None:
        """In the worker thread: the next sentence's audio, or None after the last."""
        try:
            chunk = next(sentences, None)
        except (ValueError, KeyError, RuntimeError) + _onnx_errors() as exc:
            raise SynthesisError(f"Piper failed on {text!r}: {exc}") from exc
        if chunk is None:
            return None
        self.sentences_synthesised += 1
        return Pcm(chunk.audio_int16_bytes, AudioFormat(chunk.sample_rate, chunk.sample_width, chunk.sample_channels))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._background.shutdown(wait=False, cancel_futures=True)


def voice_identity(model: Path, config: Path) -> str:
    """A short hash of the voice model's and its config's contents (read once, at start)."""
    digest = hashlib.blake2b(digest_size=8)
    for path in (model, config):
        with path.open("rb") as file:
            digest.update(hashlib.file_digest(file, "blake2b").digest())
    return digest.hexdigest()


def _lowest_priority() -> None:
    """In the replies-made-ahead thread: nice 19 for this thread alone (Linux schedules threads
    as tasks of their own; elsewhere the setting would apply to the whole process, so it is
    left alone there)."""
    if sys.platform.startswith("linux"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _onnx_errors() -> tuple[type[Exception], ...]:
    """onnxruntime's own exceptions derive from Exception directly, not from RuntimeError."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort

    return (ort.Fail, ort.InvalidArgument, ort.InvalidGraph, ort.InvalidProtobuf, ort.NoSuchFile, ort.NoModel, ort.RuntimeException)
