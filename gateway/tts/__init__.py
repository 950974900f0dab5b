"""Offline text-to-speech: engines (espeak-ng, Piper), audio conversion, reply cache, and the
Hermes TTS service that turns `hermes/tts/say` into `playBytes` for a site."""
