"""Opt-in debug capture: the last utterances as WAV files, for tuning endpointing and grammars.

Off unless an operator turns it on (`voice.debug_capture.enabled`); the folder is capped at
`max_bytes` by deleting the oldest captures. Nothing else in the gateway writes audio anywhere.
"""

from __future__ import annotations

import time
from pathlib import Path

from gateway.voice.settings import DebugCapture as DebugCaptureSettings
from gateway.audio import make_wav


class DebugCapture:
    def __init__(self, settings: DebugCaptureSettings) -> None:
        self._dir = settings.directory
        self._max_bytes = settings.max_bytes

    def save(self, site_id: str, pcm: bytes) -> Path | None:
        """Blocking (file I/O): call it from a worker thread."""
        wav = make_wav(pcm)
        if len(wav) > self._max_bytes:
            return None
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns() % 1_000_000:06d}-{site_id}.wav"
        path.write_bytes(wav)
        self._trim()
        return path

    def _trim(self) -> None:
        files = sorted(self._dir.glob("*.wav"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        while files and total > self._max_bytes:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
