"""Pure retry logic: what each status means, Retry-After parsing, backoff growth and jitter."""

from __future__ import annotations

import random
from email.utils import formatdate

from gateway.backoff import Backoff
from gateway.sync.backoff import Verdict, classify, parse_retry_after


def test_classify() -> None:
    assert classify(200) is Verdict.OK and classify(204) is Verdict.OK
    assert all(classify(s) is Verdict.RETRY for s in (408, 429, 500, 502, 503, 504))
    assert all(classify(s) is Verdict.REFUSED for s in (401, 403, 404))
    assert all(classify(s) is Verdict.SPLIT for s in (400, 409, 413, 422))
    assert classify(302) is Verdict.RETRY  # a redirect is never followed (it could lead to plain http)


def test_retry_after_forms() -> None:
    assert parse_retry_after("7", 1000.0) == 7.0
    assert parse_retry_after(formatdate(1030.0, usegmt=True), 1000.0) == 30.0
    assert parse_retry_after(formatdate(900.0, usegmt=True), 1000.0) == 0.0
    assert parse_retry_after("soon", 0.0) is None and parse_retry_after(None, 0.0) is None


def test_backoff_grows_with_jitter_and_caps() -> None:
    backoff = Backoff(0.5, 8.0, 60.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(8)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not a fixed ladder
    assert 10.0 <= backoff.next_delay(retry_after=10.0) <= 11.0
    assert 60.0 <= backoff.next_delay(retry_after=3600.0) <= 66.0  # capped
    backoff.reset()
    assert 0.25 <= backoff.next_delay() <= 0.5
