"""Running a built-in skill's handler for a recognised intent, isolated: a failing or slow skill
gives the customer an apology and the operator a Hermes error, never a dead dialogue manager."""

from __future__ import annotations

import logging
from datetime import datetime

from gateway.voice.nlu.match import IntentMatch
from gateway.voice.profiles import Profiles
from gateway.voice.session import Session
from gateway.waiting import within
from skills.api import Handler, IntentInfo, PrivacyActions, Reply, SessionInfo, ShopData, SkillContext

log = logging.getLogger(__name__)

SKILL_TIMEOUT_S = 5.0
SORRY = {"en": "Sorry, something went wrong. Please ask a colleague.", "de": "Entschuldigung, das hat nicht geklappt."}


class SkillFailed(Exception):
    pass


class SkillRunner:
    def __init__(self, handlers: dict[str, Handler], shop: ShopData, privacy: PrivacyActions, profiles: Profiles) -> None:
        self.handlers = handlers
        self._shop = shop
        self._privacy = privacy
        self._profiles = profiles

    def handles(self, intent: str) -> bool:
        return intent in self.handlers

    async def run(self, session: Session, match: IntentMatch, confirmed: bool = False) -> Reply:
        """The handler's reply (`confirmed`: after the customer's clear yes to its question); raises SkillFailed (with the reason) if it broke or took too long."""
        handler = self.handlers[match.intent]
        customer = await self._profiles.customer(session.customer_id)
        ctx = SkillContext(
            intent=IntentInfo(match.intent, {s.name: s.value for s in match.slots}, match.text, match.confidence),
            session=SessionInfo(session.site_id, session.session_id, session.lang),
            customer=customer,
            shop=self._shop,
            privacy=self._privacy,
            now=datetime.now().astimezone(),
            confirmed=confirmed,
        )
        try:
            return await within(handler(ctx), SKILL_TIMEOUT_S)
        except TimeoutError as exc:
            raise SkillFailed(f"skill for {match.intent} took longer than {SKILL_TIMEOUT_S}s") from exc
        except Exception as exc:  # noqa: BLE001 - isolation boundary: logged, reported, apologised for
            log.exception("skill for %s failed", match.intent)
            raise SkillFailed(f"skill for {match.intent} failed: {exc}") from exc

    @staticmethod
    def apology(lang: str) -> str:
        return SORRY.get(lang, SORRY["en"])
