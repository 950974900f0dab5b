"""The status page's sessions, kept on the server: a cookie carries only a random id.

A session ends when it has been idle too long, when it reaches its maximum age, or at logout;
once ended, the same cookie value is refused, whoever replays it. The table holds the SHA-256 of
each id (a memory dump or a debug log of the table gives nothing to present), is bounded (the
oldest session makes room for a new one) and lives in memory: a restart logs everyone out, which
is what an operator expects of a gateway that was restarted. Times are monotonic, so a clock
jump (NTP setting the time of a Pi without a battery) neither ends nor extends a session.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# 256 bits: guessing a live id is out of reach however fast an attacker asks.
SESSION_ID_BYTES = 32


@dataclass
class _Session:
    created_at: float
    last_seen: float


class SessionTable:
    def __init__(
        self, idle_s: float, max_age_s: float, max_sessions: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._idle_s = idle_s
        self._max_age_s = max_age_s
        self._max_sessions = max_sessions
        self._clock = clock
        # Oldest first, so the session that makes room for a new one is the least recently used.
        self._sessions: OrderedDict[bytes, _Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def start(self) -> str:
        """A new session; returns the cookie value (shown to the browser once, kept only hashed)."""
        now = self._clock()
        self._drop_ended(now)
        while len(self._sessions) >= self._max_sessions:
            self._sessions.popitem(last=False)
        value = secrets.token_urlsafe(SESSION_ID_BYTES)
        self._sessions[_key(value)] = _Session(created_at=now, last_seen=now)
        return value

    def is_live(self, value: str) -> bool:
        """True for a session that has not ended; counts as activity (resets the idle time)."""
        if not value or len(value) > 128:
            return False
        key = _key(value)
        session = self._sessions.get(key)
        if session is None:
            return False
        now = self._clock()
        if self._ended(session, now):
            del self._sessions[key]
            return False
        session.last_seen = now
        self._sessions.move_to_end(key)
        return True

    def end(self, value: str) -> bool:
        """Logout: the session is gone for good. False when there was none to end."""
        return self._sessions.pop(_key(value), None) is not None if value and len(value) <= 128 else False

    def _ended(self, session: _Session, now: float) -> bool:
        return now - session.last_seen > self._idle_s or now - session.created_at > self._max_age_s

    def _drop_ended(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._ended(s, now)]:
            del self._sessions[key]


def _key(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
