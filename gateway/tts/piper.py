"""Piper (neural TTS, onnxruntime) for languages where a voice model is configured.

The model is loaded once at start, off the event loop. Synthesis runs in one worker thread at a
time: onnxruntime already uses every core for one request, and two at once on a Raspberry Pi
would only slow both.
"""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gateway.tts.engine import SynthesisError
from gateway.audio import AudioFormat, Pcm
from gateway.waiting import within


_WARM_UP_TEXT = "Hello."


class PiperEngine:
    name = "piper"

    def __init__(self, model: Path, config: Path | None = None, length_scale: float | None = None, timeout_s: float = 10.0) -> None:
        self._model = model
        self._config = config or Path(f"{model}.json")
        self._length_scale = length_scale
        self._timeout_s = timeout_s
        self._voice: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")
        self._key = f"piper:{model.name}:{length_scale}"
        self.warm_up_s: float | None = None  # how long the warm-up synthesis at start took

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
        await loop.run_in_executor(self._executor, self._synthesize, _WARM_UP_TEXT)
        self.warm_up_s = loop.time() - started
        # The model file's identity (not just its name) makes the cache key: a replaced model
        # must not be served from replies cached for the old one.
        stat = self._model.stat()
        digest = hashlib.blake2b(f"{self._model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode(), digest_size=6)
        self._key = f"piper:{self._model.name}:{digest.hexdigest()}:{self._length_scale}"

    def _load(self) -> Any:
        try:
            from piper import PiperVoice  # optional dependency: piper-tts
        except ImportError as exc:
            raise SynthesisError("Piper voice configured but piper-tts is not installed (pip install piper-tts)") from exc
        try:
            return PiperVoice.load(self._model, config_path=self._config)
        except (OSError, ValueError, KeyError, TypeError) + _onnx_errors() as exc:
            raise SynthesisError(f"cannot load Piper voice {self._model}: {exc}") from exc

    async def synthesize(self, text: str) -> Pcm:
        if self._voice is None:
            raise SynthesisError("Piper engine used before start()")
        loop = asyncio.get_running_loop()
        try:
            return await within(loop.run_in_executor(self._executor, self._synthesize, text), self._timeout_s)
        except TimeoutError:
            raise SynthesisError(f"Piper took longer than {self._timeout_s}s") from None

    def _synthesize(self, text: str) -> Pcm:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=self._length_scale)
        try:
            chunks = list(self._voice.synthesize(text, syn_config=config))
        except (ValueError, KeyError, RuntimeError) + _onnx_errors() as exc:
            raise SynthesisError(f"Piper failed on {text!r}: {exc}") from exc
        if not chunks:
            raise SynthesisError(f"Piper produced no audio for {text!r}")
        first = chunks[0]
        audio = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return Pcm(audio, AudioFormat(first.sample_rate, first.sample_width, first.sample_channels))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _onnx_errors() -> tuple[type[Exception], ...]:
    """onnxruntime's own exceptions derive from Exception directly, not from RuntimeError."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort

    return (ort.Fail, ort.InvalidArgument, ort.InvalidGraph, ort.InvalidProtobuf, ort.NoSuchFile, ort.NoModel, ort.RuntimeException)
