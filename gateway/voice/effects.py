"""The dialogue side of the effect guard: per session, the effectful intent the speaker asked
back about, and what to say. The decision itself is nlu/guard.py's.

Flow: an effectful intent recognised with less than its threshold is not published and not
run; the speaker asks back ("Did you want me to call a colleague? Please say it again.") and
listens. If the customer's answer is the same intent, recognised again, it is acted on; anything
else is handled as a new request. The privacy issue's confirmation step ("say 'yes, delete'")
replaces `nlu.guard.confirms` and the prompt here; the signal (verdict, threshold) stays.
"""

from __future__ import annotations

from gateway.voice.nlu.guard import Verdict, confirms, judge
from gateway.voice.nlu.match import IntentMatch, Matcher
from gateway.voice.settings import GuardSettings

MAX_PENDING = 1000  # sessions asked back at once; beyond it the oldest is forgotten

# What the speaker says when nothing it knows was understood: what it can help with.
NOT_UNDERSTOOD = {
    "en": "Sorry, I did not understand that. I can help with products, offers, opening hours and your points.",
    "de": "Entschuldigung, das habe ich nicht verstanden. Ich helfe Ihnen bei Produkten, Angeboten, Öffnungszeiten "
    "und Ihren Punkten.",
}
ASK_BACK = {
    "CallStaff": {
        "en": "Did you want me to call a colleague? Please say it again.",
        "de": "Soll ich einen Kollegen rufen? Bitte sagen Sie es noch einmal.",
    },
    "ForgetMe": {
        "en": "Did you want me to erase your data? Please say it again.",
        "de": "Soll ich Ihre Daten löschen? Bitte sagen Sie es noch einmal.",
    },
}
ASK_BACK_OTHER = {
    "en": "I want to be sure before I do that. Please say it again.",
    "de": "Ich möchte sicher sein, bevor ich das tue. Bitte sagen Sie es noch einmal.",
}


def by_lang(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or texts["en"]


class EffectGuard:
    def __init__(self, settings: GuardSettings) -> None:
        self._settings = settings
        self._asked: dict[str, IntentMatch] = {}

    def check(self, session_id: str, lang: str, match: IntentMatch | None, matcher: Matcher) -> tuple[IntentMatch | None, str | None]:
        """(the intent to act on, or None; what to ask back, or None)."""
        asked = self._asked.pop(session_id, None)
        if match is None:
            return None, None
        policy = self._settings.policy(matcher.effectful)
        if asked is not None and confirms(asked, match, policy):
            return match, None
        judgement = judge(match, policy, matcher.lists)
        if judgement.verdict is Verdict.ACT:
            return match, None
        if judgement.verdict is Verdict.ASK_BACK:
            if len(self._asked) >= MAX_PENDING:
                self._asked.pop(next(iter(self._asked)))
            self._asked[session_id] = match
            return None, by_lang(ASK_BACK.get(match.intent, ASK_BACK_OTHER), lang)
        return None, None

    def forget(self, session_id: str) -> None:
        self._asked.pop(session_id, None)
