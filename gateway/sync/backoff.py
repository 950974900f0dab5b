"""When to try again, for the sync parts. Pure: `Retry-After`, what each HTTP status means for
the events that were sent, and the sync settings' backoff (the one `Backoff`: gateway/backoff.py)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from gateway.backoff import Backoff

if TYPE_CHECKING:
    from gateway.sync.settings import SyncSettings


class Verdict(StrEnum):
    OK = "ok"
    RETRY = "retry"  # the service could not take it now: 5xx, 429, 408, timeouts, lost connections
    SPLIT = "split"  # the batch as a whole was refused (400, 413, 422 …): narrow it down to the bad events
    REFUSED = "refused"  # not the events' fault (401, 403, 404, 405): keep them, retry slowly, alert


def classify(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.OK
    if status in (401, 403, 404, 405, 407):
        return Verdict.REFUSED
    if status in (408, 425, 429) or status >= 500:
        return Verdict.RETRY
    if 400 <= status < 500:
        return Verdict.SPLIT
    return Verdict.RETRY  # 1xx/3xx are not answers of this API: treat as a transient fault


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. None if absent
    or unreadable (then our own backoff applies)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def sync_backoff(settings: SyncSettings) -> Backoff:
    """The backoff of a sync part (events, changes, erasures), with the limits from its settings."""
    return Backoff(settings.backoff_initial_s, settings.backoff_max_s, settings.retry_after_max_s)
