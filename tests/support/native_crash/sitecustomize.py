"""Loaded (through PYTHONPATH) into a gateway process under test: a stand-in for a native crash.

When the gateway normalises a sensor message, works on a consent message, or acts on a Hermes
startSession whose payload holds TOUCHGATE_TEST_CRASH_ON, the process SIGKILLs itself, exactly as a segfault in a C extension or the OOM killer would end it: no
exception, no cleanup, no PUBACK. Each such death appends a line to TOUCHGATE_TEST_CRASH_LOG first,
so the test can count them. Nothing of this is in the gateway's own code.
"""

from __future__ import annotations

import os
import signal

_MARK = os.environ.get("TOUCHGATE_TEST_CRASH_ON", "").encode()
_LOG = os.environ.get("TOUCHGATE_TEST_CRASH_LOG", "")

def _die_on(topic: str, payload: bytes, dup: object = None) -> None:
    if _MARK in payload:
        with open(_LOG, "a") as log:
            log.write(f"{topic} dup={dup}\n")
        os.kill(os.getpid(), signal.SIGKILL)


if _MARK and _LOG:
    from gateway.consent import inbox as _inbox
    from gateway.devices import normalise as _normalise
    from gateway.voice import service as _voice

    _original = _normalise.Normaliser.normalise
    _original_consent = _inbox.ConsentInbox._consent
    _original_start = _voice.VoiceService.start_session

    def _crashing(self: _normalise.Normaliser, message: object) -> object:
        _die_on(message.topic, message.payload, message.dup)  # type: ignore[attr-defined]
        return _original(self, message)  # type: ignore[arg-type]

    async def _crashing_consent(self: _inbox.ConsentInbox, message: object) -> None:
        _die_on(message.topic, message.payload, message.dup)  # type: ignore[attr-defined]
        await _original_consent(self, message)  # type: ignore[arg-type]

    def _crashing_start(self: _voice.VoiceService, message: object) -> object:
        _die_on("hermes/dialogueManager/startSession", message.model_dump_json().encode())  # type: ignore[attr-defined]
        return _original_start(self, message)  # type: ignore[arg-type]

    _normalise.Normaliser.normalise = _crashing  # type: ignore[method-assign,assignment]
    _inbox.ConsentInbox._consent = _crashing_consent  # type: ignore[method-assign]
    _voice.VoiceService.start_session = _crashing_start  # type: ignore[method-assign,assignment]
