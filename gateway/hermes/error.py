"""`hermes/error/<component>`: what went wrong, for whom."""

from __future__ import annotations

from gateway.hermes import topics
from gateway.hermes.base import DEFAULT_SITE, HermesMessage, SiteId


class HermesError(HermesMessage):
    """Sent on `hermes/error/<component>`: `HermesError.topic(component="asr")`."""

    TOPIC = topics.ERROR

    error: str
    context: str | None = None
    siteId: SiteId = DEFAULT_SITE
    sessionId: str | None = None
