"""WAV reading/resampling, endpointing and the session state machine (pure parts)."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.hermes.dialogue import TerminationReason
from gateway.voice.session import Phase, SessionError, SessionTable
from gateway.voice.settings import EndpointSettings
from gateway.voice.vad import Endpointer, VadState
from gateway.audio import AudioFormatError, make_wav, read_frame


def tone(seconds: float, rate: int = 16000, amplitude: float = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2")


def test_other_rates_and_stereo_become_16k_mono() -> None:
    mono44 = tone(1.0, 44100)
    chunk = read_frame(make_wav(np.repeat(mono44, 2).tobytes(), rate=44100, channels=2), 1 << 20)
    assert abs(chunk.seconds - 1.0) < 0.001
    samples = np.frombuffer(chunk.pcm, dtype="<i2")
    assert 7000 < samples.max() <= 8000  # the tone survives


@pytest.mark.parametrize(
    ("wav", "words"),
    [
        (make_wav(b"\x00" * 100, width=1), "8-bit"),
        (make_wav(b"\x00" * 600, channels=3), "3 channels"),
        (make_wav(b"\x00" * 100, rate=4000), "outside"),
        (make_wav(b"\x00" * 100)[:20], "unreadable"),
        (make_wav(b"\x00" * 100)[:-10], "truncated"),
        (b"OggS" + b"\x00" * 40, "not a WAV"),
    ],
)
def test_bad_frames_are_refused_with_the_reason(wav: bytes, words: str) -> None:
    with pytest.raises(AudioFormatError) as info:
        read_frame(wav, 1 << 20)
    assert words in str(info.value)


def test_oversized_frames_are_refused() -> None:
    with pytest.raises(AudioFormatError, match="larger than"):
        read_frame(make_wav(b"\x00" * 5000), 4096)


def feed(endpointer: Endpointer, pcm: np.ndarray) -> VadState:
    state = endpointer.state
    data = pcm.astype("<i2").tobytes()
    for i in range(0, len(data), 2048):
        state = endpointer.feed(data[i : i + 2048])
    return state


def test_endpointing_needs_speech_then_trailing_silence() -> None:
    settings = EndpointSettings(silence_ms=400)
    endpointer = Endpointer(settings)
    quiet = np.random.default_rng(1).normal(0, 30, 16000).astype("<i2")
    assert feed(endpointer, quiet) is VadState.WAITING
    assert feed(endpointer, tone(0.05)) is VadState.WAITING  # a click is not speech
    assert feed(endpointer, quiet[:3200]) is VadState.WAITING
    assert feed(endpointer, tone(0.8)) is VadState.SPEECH
    assert feed(endpointer, quiet[:4800]) is VadState.SPEECH  # 300 ms pause: still talking
    assert feed(endpointer, tone(0.3)) is VadState.SPEECH
    assert feed(endpointer, quiet[:8000]) is VadState.ENDED


def test_endpointing_limits() -> None:
    assert feed(Endpointer(EndpointSettings(max_utterance_s=1.0)), tone(3.0)) is VadState.TOO_LONG
    silence = np.zeros(16000 * 2, dtype="<i2")
    assert feed(Endpointer(EndpointSettings(no_speech_timeout_s=1.0)), silence) is VadState.NO_SPEECH


def test_sessions_per_site_barge_in_and_phases() -> None:
    table = SessionTable()
    first, aborted = table.start("kitchen", 0.0, "en", own=True)
    assert aborted is None and first.phase is Phase.LISTENING
    second, aborted = table.start("kitchen", 1.0, "en", own=True)
    assert aborted is first and first.termination is TerminationReason.ABORTED_BY_USER
    assert table.at("kitchen") is second and table.get(first.session_id) is None
    with pytest.raises(SessionError):
        second.recognised()
    second.utterance_ended()
    second.recognised()
    assert second.phase is Phase.HANDLING and second.turns == 1
    second.listen_again(["Help"])
    assert second.phase is Phase.LISTENING and second.intent_filter == ["Help"]
    assert table.expired(30.5) == [] and table.expired(40.0) == [second]
    assert table.finish(second, TerminationReason.TIMEOUT) is True
    assert table.finish(second, TerminationReason.TIMEOUT) is False  # ended once
    with pytest.raises(SessionError):
        second.listen_again(None)


@pytest.mark.parametrize("snr_db", [10.0, 20.0])
def test_an_utterance_in_steady_noise_ends_after_the_speech(snr_db: float) -> None:
    """A shop is never quiet: noise before, under and after the words. The floor must rise to the
    noise (it used to stay at its start, so every window was speech and no turn ever ended)."""
    import wave
    from pathlib import Path

    with wave.open(str(Path(__file__).parents[1] / "data" / "audio" / "en_hours_1.wav")) as reader:
        speech = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float64)
    rng = np.random.default_rng(7)
    spectrum = np.fft.rfft(rng.standard_normal(16000 * 8))
    spectrum[1:] /= np.sqrt(np.fft.rfftfreq(16000 * 8)[1:])  # pink, like a fan or distant talk
    noise = np.fft.irfft(spectrum)
    level = lambda x: np.mean(x[np.abs(x) > 0.01 * np.abs(x).max()] ** 2)  # noqa: E731
    noise *= np.sqrt(level(speech) / (level(noise) * 10 ** (snr_db / 10)))
    mix = noise.copy()
    start = 2 * 16000
    mix[start : start + speech.size] += speech
    pcm = np.clip(mix, -32768, 32767).astype("<i2").tobytes()
    loud = np.nonzero(np.abs(speech) > 0.05 * np.abs(speech).max())[0]
    speech_ends_ms = (start + loud[-1]) / 16
    endpointer = Endpointer(EndpointSettings())
    for at in range(0, len(pcm), 640):
        if endpointer.feed(pcm[at : at + 640]) is not VadState.WAITING and endpointer.state is not VadState.SPEECH:
            break
    assert endpointer.state is VadState.ENDED
    assert speech_ends_ms < endpointer.elapsed_ms < speech_ends_ms + 1500
