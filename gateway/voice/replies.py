"""Replies spoken in a session: each one is a task the session owns, so a session that ends
(barge-in, endSession, timeout) stops its replies — the speaker's wait is cancelled, which stops
the rest of the synthesis in the TTS part or the Wyoming link."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.hermes.dialogue import TerminationReason
from gateway.hermes.tts import SayOutcome, TtsSay
from gateway.ports import ReplySpeaker
from gateway.voice.session import Session

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]
EndSession = Callable[[Session, TerminationReason, str], None]


class SessionReplies:
    def __init__(self, speaker: ReplySpeaker, spawn: Spawn, end: EndSession, clock: Callable[[], float]) -> None:
        self._speaker = speaker
        self._spawn = spawn
        self._end = end
        self._clock = clock
        self._tasks: dict[str, set[asyncio.Task[None]]] = {}

    def speak_then(self, session: Session, text: str, then: Callable[[], None]) -> None:
        """Speak `text` on the session's site; when the speaker has played it, `then`. A reply
        that was not played ends the session: `timeout` (no playFinished) or `error` (not spoken)."""
        number = session.speaking(self._clock())
        say = TtsSay(text=text, siteId=session.site_id, sessionId=session.session_id, lang=session.lang, id=uuid.uuid4().hex)
        task = self._spawn(self._speak(session, say, number, then))
        self._tasks.setdefault(session.session_id, set()).add(task)

    def stop(self, session: Session) -> None:
        for task in self._tasks.pop(session.session_id, ()):
            task.cancel()

    async def _speak(self, session: Session, say: TtsSay, number: int, then: Callable[[], None]) -> None:
        try:
            outcome = await self._speaker.speak(say)
        finally:  # spoken (or stopped): from here on, ending the session must not cancel this task
            replies, this = self._tasks.get(session.session_id), asyncio.current_task()
            if replies is not None and this is not None:
                replies.discard(this)
                if not replies:
                    del self._tasks[session.session_id]
        if not session.is_current_speech(number):
            return  # the session ended or moved on meanwhile (barge-in, endSession)
        if outcome is SayOutcome.PLAYED:
            then()
        elif outcome is SayOutcome.TIMEOUT:
            self._end(session, TerminationReason.TIMEOUT, f"no playFinished from site {session.site_id}")
        else:
            self._end(session, TerminationReason.ERROR, "the reply could not be spoken")
