"""Loaded (through PYTHONPATH) into a gateway process under test: a stand-in for a native crash.

When the gateway normalises a message whose payload holds TOUCHGATE_TEST_CRASH_ON, the process
SIGKILLs itself, exactly as a segfault in a C extension or the OOM killer would end it: no
exception, no cleanup, no PUBACK. Each such death appends a line to TOUCHGATE_TEST_CRASH_LOG first,
so the test can count them. Nothing of this is in the gateway's own code.
"""

from __future__ import annotations

import os
import signal

_MARK = os.environ.get("TOUCHGATE_TEST_CRASH_ON", "").encode()
_LOG = os.environ.get("TOUCHGATE_TEST_CRASH_LOG", "")

if _MARK and _LOG:
    from gateway.devices import normalise as _normalise

    _original = _normalise.Normaliser.normalise

    def _crashing(self: _normalise.Normaliser, message: object) -> object:
        if _MARK in message.payload:  # type: ignore[attr-defined]
            with open(_LOG, "a") as log:
                log.write(f"{message.topic} dup={message.dup}\n")  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGKILL)
        return _original(self, message)  # type: ignore[arg-type]

    _normalise.Normaliser.normalise = _crashing  # type: ignore[method-assign,assignment]
