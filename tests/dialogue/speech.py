"""Decoding the gateway's spoken replies back to words with PocketSphinx (English model in its
wheel). The grammar offers every product and aisle number the shop's answer could name, so a
recognised sentence proves the reply's key words are in the audio, not just that there is speech."""

from __future__ import annotations

from pocketsphinx import Decoder

from tests.tts.speech import wav_to_16k_mono

PRODUCTS = "milk | bread | coffee | tea | sugar | rice | pasta | apples | bananas | chocolate | water | wine | batteries | toothpaste"
NUMBERS = "one | two | three | four | five | six | seven | eight | nine | ten | eleven | twelve | thirteen | fourteen"
REPLY_GRAMMAR = f"""#JSGF V1.0;
grammar replies;
public <reply> = you will find ({PRODUCTS}) in aisle ({NUMBERS})
    | which (size | product | colour) would you like
    | your (tea | coffee | order | drink) is (coming | ready)
    | sorry i did not understand that;
"""


def reply_decoder() -> Decoder:
    # As in tests/tts/speech.py: no bestpath rescoring (it drops espeak-ng's last words), batch CMN
    # (results independent of the utterances decoded before). Dither (fixed seed: repeatable):
    # without it the synthetic voice's exact digital silence made "milk" come out as "tea" and
    # "seven" as "two" (measured on these sentences).
    decoder = Decoder(bestpath=False, cmn="batch", dither=True, seed=7, loglevel="FATAL")
    decoder.add_jsgf_string("replies", REPLY_GRAMMAR)
    decoder.activate_search("replies")
    return decoder


def words_of(decoder: Decoder, wav_bytes: bytes) -> str | None:
    decoder.start_utt()
    decoder.process_raw(wav_to_16k_mono(wav_bytes), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else None
