"""espeak-ng as a subprocess per request: `espeak-ng --stdout` writes a WAV file.

A process per request costs about 10 ms for a short reply on a 2-core x86 machine (measured with
bench/tts.py); espeak-ng has no mode that keeps one process and separates utterances in its WAV
output, and the reply cache takes care of the repeats. The text goes in on stdin, never on the
command line, so a reply starting with "-" is not read as an option.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncGenerator

from gateway.tts.engine import SynthesisError
from gateway.audio import AudioFormatError, Pcm, read_wav
from gateway.processes import reap
from gateway.waiting import within


class EspeakEngine:
    name = "espeak-ng"

    def __init__(self, voice: str, rate_wpm: int = 150, pitch: int = 50, binary: str = "espeak-ng", timeout_s: float = 10.0) -> None:
        self._voice = voice
        self._rate = rate_wpm
        self._pitch = pitch
        self._binary = binary
        self._timeout_s = timeout_s

    @property
    def voice_key(self) -> str:
        return f"espeak-ng:{self._voice}:{self._rate}:{self._pitch}"

    async def start(self) -> None:
        path = shutil.which(self._binary)
        if path is None:
            raise SynthesisError(f"{self._binary} not found: install the Debian package espeak-ng")
        self._binary = path
        # One real synthesis proves the voice exists (espeak-ng exits 1 for an unknown voice).
        await self.synthesize("ok")

    async def stream(self, text: str) -> AsyncGenerator[Pcm, None]:
        """One chunk: espeak-ng is fast enough (tens of ms per sentence) that splitting would
        only add a process per sentence."""
        yield await self.synthesize(text)

    async def synthesize(self, text: str) -> Pcm:
        args = ["-v", self._voice, "-s", str(self._rate), "-p", str(self._pitch), "-b", "1", "--stdout"]
        try:
            process = await asyncio.create_subprocess_exec(
                self._binary, *args,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise SynthesisError(f"cannot start {self._binary}: {exc}") from exc
        try:
            out, err = await within(process.communicate(text.encode("utf-8")), self._timeout_s)
        except TimeoutError:
            raise SynthesisError(f"espeak-ng took longer than {self._timeout_s}s") from None
        finally:
            if process.returncode is None:
                await reap(process)
        if process.returncode != 0:
            detail = err.decode("utf-8", "replace").strip() or f"exit status {process.returncode}"
            raise SynthesisError(f"espeak-ng voice {self._voice!r}: {detail}")
        try:
            pcm = read_wav(out)
        except AudioFormatError as exc:
            raise SynthesisError(f"espeak-ng wrote no usable WAV: {exc}") from exc
        if pcm.frames == 0:
            raise SynthesisError(f"espeak-ng produced no audio for {text!r}")
        return pcm
