"""The gateway's own wake-word stage, for satellites that stream their microphone all the time.

`wyoming-satellite` in its default mode leaves the wake word to the server (its pipeline starts
at `wake`). The stream is cut into utterances by the voice part's energy endpointer (next to free:
it runs on every frame of every satellite); only a short utterance followed by a pause
(`pause_ms`: the phrase, then the customer waits for the beep) is decoded, and it wakes the
satellite when the phrase fits it well enough against a free phone loop, overall and word by word
(`wake_verify.py`). Everything else the stream carries costs no decoding at all.

The endpointer's noise floor is kept across utterances and follows the stream's quiet level, so a
steady noise (a fridge, a fan, the till's hum) becomes background rather than one endless
"utterance" that hides the phrase inside it.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from concurrent.futures import Executor

import numpy as np

from gateway.voice.settings import EndpointSettings
from gateway.voice.vad import WINDOW_SAMPLES, Endpointer, VadState
from gateway.wyoming.settings import WakeSettings
from gateway.wyoming.wake_verify import WakeFit, WakeModel, WakePhraseError, WakeVerifier

__all__ = ["WakeFit", "WakeModel", "WakePhraseError", "WakeSpotter", "accepts", "wake_model"]

PRE_ROLL_S = 0.3
BYTES_PER_S = 32_000
_FLOOR_HISTORY = 25  # 20 ms windows: the last half second of the stream
_FLOOR_PERCENTILE = 10  # its quiet level: speech has pauses and closures quieter than this
_BACKGROUND_DB = 3.0  # "speech" this close to the quiet level is background noise that began...
_STEADY_DB = 6.0  # ...if it is steady too (speech's level swings far more within half a second)


def wake_model(settings: WakeSettings) -> WakeModel:
    """The phrase's dictionary and grammar (reads the dictionary: call it off the event loop, once)."""
    return WakeModel(settings.phrase)


def accepts(fit: WakeFit, settings: WakeSettings) -> bool:
    return (
        fit.matched
        and fit.gap <= settings.max_gap
        and fit.worst_word_gap <= settings.max_word_gap
        and fit.shortest_phone_frames >= settings.min_frames_per_phone
        and fit.longest_phone_frames <= fit.shortest_phone_frames * settings.max_duration_ratio
        and fit.inner_pause_frames * 10 <= settings.max_inner_pause_ms
        and (fit.shortest_phone_share is None or fit.shortest_phone_share >= settings.min_phone_share)
    )


class WakeSpotter:
    """One satellite's stream → short utterances → 'was it the wake phrase?'. One per stream."""

    def __init__(self, model: WakeModel, settings: WakeSettings, pool: Executor) -> None:
        self._model = model
        self._settings = settings
        self._pool = pool
        self._verifier: WakeVerifier | None = None  # built in the pool on first use (~70 ms)
        self._endpoint = EndpointSettings(
            silence_ms=settings.pause_ms, speculate_ms=None, no_speech_timeout_s=60, max_utterance_s=settings.max_phrase_s,
            threshold_db=settings.above_noise_db,
        )
        self._levels: deque[float] = deque(maxlen=_FLOOR_HISTORY)
        self._leftover = b""
        self.decoded_utterances = 0
        self.last_fit: WakeFit | None = None
        self._reset()

    def _quiet_level(self) -> float:
        return float(np.percentile(self._levels, _FLOOR_PERCENTILE)) if self._levels else -70.0

    def _reset(self) -> None:
        self._endpointer = Endpointer(self._endpoint, noise_floor_db=self._quiet_level())
        self._pre_roll: deque[bytes] = deque()
        self._speech: list[bytes] = []

    def reset(self) -> None:
        """Forget what was heard (when a session hands the stream back to the wake stage)."""
        self._reset()

    async def feed(self, pcm: bytes) -> bool:
        """True when the audio so far ended with the wake phrase and a pause."""
        self._track_levels(pcm)
        state = self._endpointer.feed(pcm)
        if state is VadState.SPEECH and self._noise_began():
            # The "utterance" is a noise that started (the endpointer's floor only follows quiet
            # windows): listen again above it, keeping the last moment as the pre-roll.
            tail = b"".join(self._speech)[-int(PRE_ROLL_S * BYTES_PER_S) :]
            self._reset()
            self._pre_roll.append(tail)
            return False
        if state is VadState.WAITING:
            self._pre_roll.append(pcm)
            while sum(map(len, self._pre_roll)) > PRE_ROLL_S * BYTES_PER_S:
                self._pre_roll.popleft()
            return False
        if self._pre_roll:
            self._speech.extend(self._pre_roll)
            self._pre_roll.clear()
        self._speech.append(pcm)
        if state is VadState.SPEECH:
            return False
        utterance = b"".join(self._speech)
        self._reset()
        if state is not VadState.ENDED:
            return False  # too long for a wake phrase
        self.decoded_utterances += 1
        fit = await asyncio.get_running_loop().run_in_executor(self._pool, self._fit, utterance)
        self.last_fit = fit
        return accepts(fit, self._settings)

    def _noise_began(self) -> bool:
        if len(self._levels) < _FLOOR_HISTORY:
            return False
        quiet, middle = np.percentile(self._levels, (_FLOOR_PERCENTILE, 50))
        floor = self._endpointer.noise_floor_db + self._endpoint.threshold_db - _BACKGROUND_DB
        return bool(quiet > floor and middle - quiet < _STEADY_DB)

    def _fit(self, pcm: bytes) -> WakeFit:
        if self._verifier is None:
            self._verifier = WakeVerifier(self._model)
        fit = self._verifier.fit(pcm)
        if accepts(fit, self._settings):  # the phone alignment only for the few that pass the rest
            fit = self._verifier.with_phone_share(pcm, fit)
        return fit

    def _track_levels(self, pcm: bytes) -> None:
        """Each 20 ms window's level (dBFS), for the noise floor of the next utterance."""
        data = self._leftover + pcm
        usable = len(data) - len(data) % (WINDOW_SAMPLES * 2)
        self._leftover = data[usable:]
        if usable:
            windows = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32).reshape(-1, WINDOW_SAMPLES)
            rms = np.sqrt(np.mean(windows * windows, axis=1)) / 32768.0
            self._levels.extend(20 * math.log10(max(float(level), 1e-6)) for level in rms)
