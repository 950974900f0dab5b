"""What a recognised turn leads to: the answer to a confirmation question, an effectful intent
asked back, an intent published and its skill run, the reply delivered (notifications, then
speech, then listening again or the end). The voice service owns sessions and audio; this module
owns the decision, and moves the dialogue through the service's `DialogueMoves`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.hermes.dialogue import DialogueContinueSession, TerminationReason
from gateway.listeners import Listeners
from gateway.voice.confirm import Answer, Confirmations
from gateway.voice.effects import EffectGuard
from gateway.voice.engines.base import Transcript
from gateway.voice.intents import IntentOut
from gateway.voice.language import LanguageKit
from gateway.voice.nlu.match import IntentMatch
from gateway.voice.notify import Notifier
from gateway.voice.outbound import HermesOut
from gateway.voice.session import Phase, Session
from gateway.voice.skillrunner import SkillFailed
from skills.api import Reply

log = logging.getLogger("gateway.voice.service")  # the service's log, as before the split

CANCELLED = {"en": "All right, I have not changed anything.", "de": "Gut, ich habe nichts geändert."}


@dataclass(frozen=True)
class DialogueMoves:
    """What the answer may do to the session, done by the voice service."""

    speak_then: Callable[[Session, str | None, Callable[[], None]], None]
    end: Callable[..., None]  # (session, reason, error=None)
    listen: Callable[[Session, list[str] | None], None]
    continue_session: Callable[[DialogueContinueSession], None]


class TurnAnswers:
    def __init__(
        self, moves: DialogueMoves, intents: IntentOut, out: HermesOut, notifier: Notifier,
        effects: EffectGuard, confirmations: Confirmations, clock: Callable[[], float],
        on_intent: Listeners[[Session, IntentMatch]], on_turn: Listeners[[Session, Transcript, IntentMatch | None, float]],
    ) -> None:
        self._moves = moves
        self._intents = intents
        self._out = out
        self._notifier = notifier
        self._effects = effects
        self._confirmations = confirmations
        self._clock = clock
        self.on_intent = on_intent  # the service's listeners (rules, metrics, transports)
        self.on_turn = on_turn

    async def answer(self, kit: LanguageKit, session: Session, transcript: Transcript, match: IntentMatch | None, last_frame_at: float) -> None:
        session.recognised(self._clock())
        decision = self._confirmations.answer(session, match)
        confirmed = decision is not None and decision.answer is Answer.CONFIRMED
        if decision is not None and not confirmed:
            log.info("confirmation cancelled in session %s: %s", session.session_id, decision.reason)
            self._turned(session, transcript, None, last_frame_at)
            cancelled = CANCELLED.get(session.lang, CANCELLED["en"])
            self._moves.speak_then(session, cancelled, lambda: self._moves.end(session, TerminationReason.NOMINAL))
            return
        if decision is None:
            # Not the answer to a confirmation question: effectful intents heard without enough
            # confidence are asked back first (nlu/guard.py). The yes itself is judged by confirm.py.
            match, instead = self._effects.check(session.session_id, session.lang, match, kit.matcher)
            if instead is not None:  # asked back (effectful, not sure enough) or a no to that: nothing published or run
                self._turned(session, transcript, None, last_frame_at)
                return self._deliver(session, instead)
        if match is None:
            self._intents.not_recognised(transcript.text, session.site_id, session.session_id, session.custom_data)
            self._turned(session, transcript, None, last_frame_at)
            if session.send_intent_not_recognized:
                return  # the skill that asked decides what happens next (or the session times out)
            sorry = self._effects.not_understood(session.lang, transcript.snr_db)
            self._moves.speak_then(session, sorry, lambda: self._moves.end(session, TerminationReason.INTENT_NOT_RECOGNIZED))
            return
        self._intents.intent(match, session.site_id, session.session_id, session.custom_data, transcript.confidence, session.lang)
        self.on_intent(session, match)
        if decision is not None:  # the yes: the handler that asked runs again, confirmed
            match = decision.pending.asked
        if not kit.skills.handles(match.intent):
            self._turned(session, transcript, match, last_frame_at)
            return  # an external skill answers with endSession/continueSession (or the session times out)
        try:
            reply = await kit.skills.run(session, match, confirmed=confirmed)
        except SkillFailed as exc:
            self._out.error("dialogueManager", str(exc), session.site_id, session.session_id)
            reply = Reply(kit.skills.apology(session.lang))
        if session.phase is Phase.HANDLING:  # not ended while the skill ran
            if reply.confirm is not None and not confirmed:
                self._ask_confirmation(session, match, reply)
            else:
                self._deliver(session, reply)
        self._turned(session, transcript, match, last_frame_at)

    def _turned(self, session: Session, transcript: Transcript, acted_on: IntentMatch | None, last_frame_at: float) -> None:
        """Every recognised turn is reported once, whatever it led to: the metrics count it and a
        Wyoming satellite gets its `transcript` (one that was asked back waited for it forever)."""
        self.on_turn(session, transcript, acted_on, time.perf_counter() - last_frame_at)

    def _ask_confirmation(self, session: Session, asked: IntentMatch, reply: Reply) -> None:
        """The handler wants a clear yes first: a Hermes continueSession that listens for the yes
        intent only, with what waits for it remembered for this session (confirm.py)."""
        assert reply.confirm is not None
        if not self._confirmations.ask(session, asked, reply.confirm):
            self._moves.speak_then(session, CANCELLED.get(session.lang, CANCELLED["en"]), lambda: self._moves.end(session, TerminationReason.NOMINAL))
            return
        self._moves.continue_session(
            DialogueContinueSession(sessionId=session.session_id, text=reply.say or "", intentFilter=[reply.confirm], sendIntentNotRecognized=True)
        )

    def _deliver(self, session: Session, reply: Reply) -> None:
        for notify in reply.notify:
            self._notifier.send(session, notify)

        def after() -> None:
            if reply.end_session:
                self._moves.end(session, TerminationReason.NOMINAL)
            else:
                self._moves.listen(session, list(reply.intent_filter) if reply.intent_filter is not None else None)

        self._moves.speak_then(session, reply.say, after)
