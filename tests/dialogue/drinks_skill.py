"""A test skill whose intent is answered by an *external* Hermes skill (the test), the way a
Node-RED flow or a Rhasspy app would: sentences here, the answer via continueSession/endSession."""

from __future__ import annotations

from skills.api import Skill

SENTENCES_EN = """
[OrderDrink]
i would like a cup of (tea | coffee) [please]
"""

SKILL = Skill(name="drinks_test", sentences={"en": SENTENCES_EN}, handlers={}, external=frozenset({"OrderDrink"}))
