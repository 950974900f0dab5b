"""The dialogue side of the effect guard: per session, the effectful intent the speaker asked
back about, and what to say. The decision itself is nlu/guard.py's.

Flow: an effectful intent recognised with less than its threshold is not published and not
run; the speaker asks back ("Did you want me to call a colleague? Please say yes or no.") and
listens for yes, no (skills/answers.py) or the same request again. A clear yes, or the same
intent said again, acts on it; a no acts on nothing ("Okay, I won't."); anything else is not
understood. The privacy issue's confirmation step ("say 'yes, delete'") comes
after this one for erasure (confirm.py).
"""

from __future__ import annotations

from gateway.voice.nlu.guard import Verdict, confirms, judge
from gateway.voice.nlu.match import IntentMatch, Matcher
from gateway.voice.settings import GuardSettings
from skills.api import Reply

MAX_PENDING = 1000  # sessions asked back at once; beyond it the oldest is forgotten
YES, NO = "Affirm", "Deny"  # skills/answers.py

# What the speaker says when nothing it knows was understood: what it can help with.
NOT_UNDERSTOOD = {
    "en": "Sorry, I did not understand that. I can help with products, offers, opening hours and your points.",
    "de": "Entschuldigung, das habe ich nicht verstanden. Ich helfe Ihnen bei Produkten, Angeboten, Öffnungszeiten "
    "und Ihren Punkten.",
}
# ... and when what it heard was mostly the shop around the customer (GuardSettings.noisy_below_db).
NOT_UNDERSTOOD_NOISY = {
    "en": "Sorry, it is loud here and I did not catch that. Could you come a little closer and say it again?",
    "de": "Entschuldigung, hier ist es laut und ich habe Sie nicht verstanden. Kommen Sie bitte etwas näher und sagen "
    "Sie es noch einmal.",
}
ASK_BACK = {
    "CallStaff": {
        "en": "Did you want me to call a colleague? Please say yes or no.",
        "de": "Soll ich einen Kollegen rufen? Bitte sagen Sie ja oder nein.",
    },
    "ForgetMe": {
        "en": "Did you want me to erase your data? Please say yes or no.",
        "de": "Soll ich Ihre Daten löschen? Bitte sagen Sie ja oder nein.",
    },
}
ASK_BACK_OTHER = {
    "en": "I want to be sure before I do that. Did you mean it? Please say yes or no.",
    "de": "Ich möchte sicher sein, bevor ich das tue. Haben Sie das gemeint? Bitte sagen Sie ja oder nein.",
}
DECLINED = {"en": "Okay, I won't.", "de": "In Ordnung, dann nicht."}


def by_lang(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or texts["en"]


def is_noisy(settings: GuardSettings, snr_db: float | None) -> bool:
    """The speech was less than `noisy_below_db` over the background (unknown: not noisy; 0 is
    what PocketSphinx's estimate gives a clip too short to measure)."""
    return settings.noisy_below_db is not None and snr_db is not None and 0.0 < snr_db < settings.noisy_below_db


class EffectGuard:
    def __init__(self, settings: GuardSettings) -> None:
        self._settings = settings
        self._asked: dict[str, IntentMatch] = {}

    def check(self, session_id: str, lang: str, match: IntentMatch | None, matcher: Matcher) -> tuple[IntentMatch | None, Reply | None]:
        """(the intent to act on, or None; the reply to give instead of acting, or None: the
        ask-back question, which listens for the answer, or the acknowledgement of a no)."""
        asked = self._asked.pop(session_id, None)
        if match is None:
            return None, None
        policy = self._settings.policy(matcher.effectful)
        if asked is not None:
            if match.intent == NO:
                return None, Reply(by_lang(DECLINED, lang))
            if (match.intent == YES and match.confidence >= policy.min_confidence) or confirms(asked, match, policy):
                return asked if match.intent == YES else match, None
        judgement = judge(match, policy, matcher.lists)
        if judgement.verdict is Verdict.ACT:
            return match, None
        if judgement.verdict is Verdict.ASK_BACK:
            if len(self._asked) >= MAX_PENDING:
                self._asked.pop(next(iter(self._asked)))
            self._asked[session_id] = match
            question = by_lang(ASK_BACK.get(match.intent, ASK_BACK_OTHER), lang)
            # The answer is heard as yes, no or the same request again (recognisers search those
            # sentences only: a short "no" in the whole grammar lost to longer sentences).
            return None, Reply(question, end_session=False, intent_filter=(match.intent, YES, NO))
        return None, None

    def not_understood(self, lang: str, snr_db: float | None) -> str:
        """What to say when nothing was understood: come closer where the speech was hardly
        above the shop's noise (as far as the recogniser measured it), else what it can do."""
        return by_lang(NOT_UNDERSTOOD_NOISY if is_noisy(self._settings, snr_db) else NOT_UNDERSTOOD, lang)

    def forget(self, session_id: str) -> None:
        self._asked.pop(session_id, None)
