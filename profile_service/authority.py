"""Who may erase whom at the central service (GDPR Art. 17 on request, Art. 32 against misuse).

An erasure deletes a customer chain-wide and tells every shop, so it is not applied on any site's
word alone. A site token erases at once only a customer that site has sent an event of (its shop
has seen them: `customer_sites`); for anyone else the request is kept, *held* for the privacy
officer, who reviews it and may erase anyone with the officer's own token. Every request is kept
with its outcome in the `erasures` table (the audit of who asked, for whom, when, and what
happened). Both storages apply these rules through `decide`.
"""

from __future__ import annotations

from enum import StrEnum

# The origin recorded for the privacy officer's erasures (a site may not take this name).
OFFICER = "privacy-officer"


class ErasureOutcome(StrEnum):
    ERASED = "erased"  # applied now
    ALREADY_ERASED = "already_erased"  # nothing was left: an erasure from elsewhere came first
    HELD = "held"  # kept for the privacy officer: this site never sent an event of the customer


def decide(requester: str, seen_by_requester: bool, already_erased: bool) -> ErasureOutcome:
    """The outcome of one erasure `requester` (a site, or OFFICER) asks for."""
    if already_erased:
        return ErasureOutcome.ALREADY_ERASED
    if requester == OFFICER or seen_by_requester:
        return ErasureOutcome.ERASED
    return ErasureOutcome.HELD
