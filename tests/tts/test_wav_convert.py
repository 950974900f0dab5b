"""WAV parsing/writing and format conversion, on real espeak-ng output and on generated signals."""

from __future__ import annotations

import io
import struct
import subprocess
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audio import AudioFormat, AudioFormatError, Pcm, convert, read_wav, write_wav

MONO16_22K = AudioFormat(22050, 2, 1)


def sine(freq: float, seconds: float, fmt: AudioFormat, amplitude: float = 0.5) -> Pcm:
    t = np.arange(int(fmt.sample_rate * seconds)) / fmt.sample_rate
    wave_ = amplitude * np.sin(2 * np.pi * freq * t)
    samples = np.repeat(wave_[:, None], fmt.channels, axis=1)
    return Pcm((samples * 32767).astype("<i2").tobytes(), AudioFormat(fmt.sample_rate, 2, fmt.channels))


def dominant_frequency(pcm: Pcm) -> float:
    data = np.frombuffer(pcm.data, dtype={1: "u1", 2: "<i2", 4: "<i4"}[pcm.format.sample_width]).astype(np.float64)
    mono = data.reshape(-1, pcm.format.channels)[:, 0]
    mono = mono - mono.mean()
    spectrum = np.abs(np.fft.rfft(mono))
    return float(np.fft.rfftfreq(len(mono), 1 / pcm.format.sample_rate)[spectrum.argmax()])


def test_reads_espeak_streamed_header() -> None:
    raw = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout"], input=b"hello there", capture_output=True, check=True).stdout
    # espeak-ng's header claims a huge data size: the stdlib wave module believes it.
    with wave.open(io.BytesIO(raw)) as w:
        assert w.getnframes() * 2 > len(raw)
    pcm = read_wav(raw)
    assert pcm.format == MONO16_22K
    assert pcm.frames == (len(raw) - 44) // 2
    assert 0.3 < pcm.duration_s < 3


def test_write_then_read_round_trip() -> None:
    pcm = sine(440, 0.25, AudioFormat(16000, 2, 2))
    wav = write_wav(pcm)
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()) == (16000, 2, 2, 4000)
    assert read_wav(wav) == pcm


def test_skips_unknown_chunks_and_odd_padding() -> None:
    pcm = sine(300, 0.1, MONO16_22K)
    wav = write_wav(pcm)
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd size, padded to even
    patched = wav[:36] + extra + wav[36:]
    assert read_wav(patched) == pcm


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a wav at all", "RIFF"),
        (b"RIFF\x00\x00\x00\x00WAVE", "no data chunk"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32) + b"data\x00\x00\x00\x00", "encoding"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd", "before fmt"),
    ],
)
def test_refuses_what_is_not_integer_pcm(data: bytes, message: str) -> None:
    with pytest.raises(AudioFormatError, match=message):
        read_wav(data)


def test_same_format_full_volume_is_untouched() -> None:
    pcm = sine(440, 0.1, MONO16_22K)
    assert convert(pcm, MONO16_22K) is pcm


def test_resampling_keeps_pitch_and_duration() -> None:
    pcm = sine(440, 1.0, MONO16_22K)
    out = convert(pcm, AudioFormat(16000, 2, 1))
    assert out.format.sample_rate == 16000
    assert abs(out.frames - 16000) <= 2
    assert dominant_frequency(out) == pytest.approx(440, abs=2)


def test_downsampling_filters_what_the_new_rate_cannot_carry() -> None:
    # 7 kHz fits at 22050 Hz but not at 8000 Hz (Nyquist 4 kHz): it must go, not fold to 1 kHz.
    out = convert(sine(7000, 0.5, MONO16_22K), AudioFormat(8000, 2, 1))
    middle = np.frombuffer(out.data, dtype="<i2")[800:-800]  # the abrupt start and end are broadband
    assert np.abs(middle).max() < 0.01 * 32767


def test_channels_widths_and_volume() -> None:
    pcm = sine(440, 0.2, MONO16_22K, amplitude=0.8)
    stereo8 = convert(pcm, AudioFormat(22050, 1, 2), volume=0.5)
    data = np.frombuffer(stereo8.data, dtype="u1").astype(int).reshape(-1, 2)
    assert (data[:, 0] == data[:, 1]).all()
    assert abs((data - 128).max() - 0.4 * 128) <= 2  # 0.8 amplitude at half volume
    wide = convert(pcm, AudioFormat(22050, 4, 1))
    back = convert(wide, MONO16_22K)
    assert back.data == pcm.data
    mono = convert(convert(pcm, AudioFormat(22050, 2, 2)), MONO16_22K)
    assert mono.data == pcm.data


@settings(max_examples=60, deadline=None)
@given(
    samples=st.lists(st.integers(-32768, 32767), min_size=0, max_size=400),
    width=st.sampled_from([2, 4]),
    channels=st.sampled_from([1, 2]),
)
def test_widening_and_back_is_lossless(samples: list[int], width: int, channels: int) -> None:
    pcm = Pcm(np.array(samples, dtype="<i2").tobytes(), MONO16_22K)
    there = convert(pcm, AudioFormat(22050, width, channels))
    assert there.frames == pcm.frames
    assert convert(there, MONO16_22K).data == pcm.data
