"""Decode reply audio back to words with PocketSphinx (its wheel carries an English model).

The grammar offers several sentences that differ only in their key words (the hour, the product),
so a recognised sentence proves those words are in the audio, not merely that there is speech.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import soxr
from pocketsphinx import Decoder

SHOP_GRAMMAR = """#JSGF V1.0;
grammar shop;
public <reply> = we are open until (six | seven | eight | nine | ten) o'clock
    | your (order | parcel | coffee) is ready
    | the (shoes | shirts | coats) are in aisle (one | two | three | four)
    | (hello | goodbye) welcome to the (shop | store)
    | goodbye and thank you;
"""


def make_decoder() -> Decoder:
    # bestpath off: the lattice rescoring drops the last words of espeak-ng's short phrases.
    # Batch CMN: each utterance is normalised on its own, so results do not depend on what the
    # decoder heard before (test order). Known limit: a long pause after a first word ("Hello,
    # welcome ...") makes the grammar search fail; the tests' sentences avoid that.
    decoder = Decoder(bestpath=False, cmn="batch", loglevel="FATAL")
    decoder.add_jsgf_string("shop", SHOP_GRAMMAR)
    decoder.activate_search("shop")
    return decoder


def wav_to_16k_mono(wav_bytes: bytes) -> bytes:
    """Independent of the code under test: the wave module and soxr directly."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    dtype = {1: "u1", 2: "<i2", 4: "<i4"}[width]
    samples = np.frombuffer(frames, dtype=dtype).astype(np.float64)
    if width == 1:
        samples = samples - 128.0
    samples = samples / float(2 ** (8 * width - 1))
    mono = samples.reshape(-1, channels).mean(axis=1)
    resampled = soxr.resample(mono, rate, 16000)
    # Half a second of silence either side, as a microphone recording would have.
    pad = np.zeros(8000)
    padded = np.concatenate([pad, resampled, pad])
    return (np.clip(padded, -1, 1) * 32767).astype("<i2").tobytes()


def recognise(decoder: Decoder, wav_bytes: bytes) -> str | None:
    decoder.start_utt()
    decoder.process_raw(wav_to_16k_mono(wav_bytes), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else None
