"""Endpointing: where speech starts and ends in a stream of 16 kHz PCM. Pure: no I/O.

Energy-based voice activity over 20 ms windows, measured against an adaptive noise floor (the
quietest recent windows), so a humming fridge does not count as speech. An utterance ends after
`silence_ms` of non-speech following at least `min_speech_ms` of speech. Simple on purpose: it
runs on every frame of every site and must cost next to nothing on a Raspberry Pi.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from gateway.voice.settings import EndpointSettings

WINDOW_SAMPLES = 320  # 20 ms at 16 kHz
WINDOW_MS = 20
# The floor is never below a low percentile (the 20th of 100 windows: the last 2 s) of the recent
# windows. In steady noise (a shop's babble, a fan) every window was "loud" against a floor that
# only quiet windows could move, so the floor stayed where it started and an utterance never
# ended: with 2 s of noise before and 6 s after each held-out pink and babble utterance (10 and
# 20 dB SNR), none ended before max_utterance_s; with this floor 280 of 288 ended, 0.2 s
# (median) after the speech. Speech has quieter moments within 2 s (pauses, closures).
FLOOR_WINDOWS = 100
FLOOR_RANK = 20
# Hysteresis: inside an utterance a window counts as speech from this share of threshold_db
# above the floor (the quiet phonemes at 10-20 dB SNR are less than threshold_db above it).
HOLD_SHARE = 0.7
_FULL_SCALE = 32768.0


class VadState(StrEnum):
    WAITING = "waiting"  # no speech yet
    SPEECH = "speech"  # inside an utterance
    ENDED = "ended"  # trailing silence long enough: the utterance is over
    TOO_LONG = "too_long"  # speech went on past max_utterance_s
    NO_SPEECH = "no_speech"  # nothing said within no_speech_timeout_s


@dataclass
class Endpointer:
    settings: EndpointSettings
    noise_floor_db: float = -70.0
    state: VadState = VadState.WAITING
    _speech_ms: int = 0
    _silence_ms: int = 0
    _elapsed_ms: int = 0
    _utterance_ms: int = 0
    _leftover: bytes = b""
    speech_end_ms: int | None = None  # stream time where the last speech window ended
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=FLOOR_WINDOWS))

    def feed(self, pcm: bytes) -> VadState:
        """Advance over `pcm`; returns the state after it. Once ENDED/TOO_LONG/NO_SPEECH it stays."""
        if self.state not in (VadState.WAITING, VadState.SPEECH):
            return self.state
        data = self._leftover + pcm
        usable = len(data) - len(data) % (WINDOW_SAMPLES * 2)
        self._leftover = data[usable:]
        if usable == 0:
            return self.state
        windows = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32).reshape(-1, WINDOW_SAMPLES)
        rms = np.sqrt(np.mean(windows * windows, axis=1)) / _FULL_SCALE
        for level in rms:
            self._window(20 * math.log10(max(float(level), 1e-6)))
            if self.state not in (VadState.WAITING, VadState.SPEECH):
                break
        return self.state

    @property
    def elapsed_ms(self) -> int:
        return self._elapsed_ms

    @property
    def trailing_silence_ms(self) -> int:
        return self._silence_ms if self.state is VadState.SPEECH else 0

    def _window(self, db: float) -> None:
        s = self.settings
        self._elapsed_ms += WINDOW_MS
        self._recent.append(db)
        if len(self._recent) == FLOOR_WINDOWS:
            self.noise_floor_db = max(self.noise_floor_db, sorted(self._recent)[FLOOR_RANK])
        threshold = s.threshold_db if self.state is VadState.WAITING else s.threshold_db * HOLD_SHARE
        loud = db >= s.min_level_dbfs and db >= self.noise_floor_db + threshold
        if not loud:
            # The floor follows quiet windows quickly down and slowly up.
            rate = 0.3 if db < self.noise_floor_db else 0.02
            self.noise_floor_db += rate * (db - self.noise_floor_db)
        if self.state is VadState.WAITING:
            if loud:
                self._speech_ms += WINDOW_MS
                if self._speech_ms >= s.min_speech_ms:
                    self.state = VadState.SPEECH
                    self._utterance_ms = self._speech_ms
                    self.speech_end_ms = self._elapsed_ms
            else:
                self._speech_ms = 0
                if self._elapsed_ms >= s.no_speech_timeout_s * 1000:
                    self.state = VadState.NO_SPEECH
            return
        self._utterance_ms += WINDOW_MS
        if loud:
            self._silence_ms = 0
            self.speech_end_ms = self._elapsed_ms
        else:
            self._silence_ms += WINDOW_MS
            if self._silence_ms >= s.silence_ms:
                self.state = VadState.ENDED
                return
        if self._utterance_ms >= s.max_utterance_s * 1000:
            self.state = VadState.TOO_LONG
