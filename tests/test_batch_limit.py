"""The ingest batch limit follows commit times, and a second batch is handed to the store while one
commits only when enough waits to be worth its own fsync (gateway/batch_limit.py, gateway/ingest.py).

Behaviour, not timing: the limit is fed commit durations directly; the ingest test holds the
store's thread with a real blocking call and sees which messages went into which commit."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.batch_limit import BatchLimit
from tests.test_ingest_seam import DOOR_TOPIC, AllowListGate, _until, message, running_ingest


def test_slow_full_batches_shrink_the_limit_in_proportion() -> None:
    limit = BatchLimit(1000, target_s=0.05, floor=50)
    limit.observe(1000, 0.2)  # four times the target
    assert limit.size == 250
    limit.observe(250, 0.1)
    assert limit.size == 125


def test_fast_full_batches_double_it_back_up_to_the_ceiling() -> None:
    limit = BatchLimit(1000, target_s=0.05, floor=50)
    limit.observe(1000, 1.0)
    assert limit.size == 50
    sizes = []
    for _ in range(6):
        limit.observe(limit.size, 0.01)
        sizes.append(limit.size)
    assert sizes == [100, 200, 400, 800, 1000, 1000]


def test_small_or_unfilled_batches_leave_it_alone() -> None:
    limit = BatchLimit(1000, target_s=0.05, floor=50)
    limit.observe(3, 2.0)  # a slow fsync of three events: the disk's, not the batch's
    assert limit.size == 1000
    limit.observe(1000, 0.5)
    assert limit.size == 100
    limit.observe(60, 0.001)  # fast, but did not fill the limit: says nothing about a bigger one
    assert limit.size == 100


def test_a_second_batch_needs_half_a_batch_waiting() -> None:
    limit = BatchLimit(100)
    assert not limit.second_batch_worth_it(49)
    assert limit.second_batch_worth_it(50)


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        BatchLimit(0)
    with pytest.raises(ValueError):
        BatchLimit(10, target_s=0)


@given(
    ceiling=st.integers(1, 100_000),
    commits=st.lists(st.tuples(st.integers(0, 200_000), st.floats(0, 60, allow_nan=False)), max_size=50),
)
def test_the_limit_stays_between_floor_and_ceiling(ceiling: int, commits: list[tuple[int, float]]) -> None:
    limit = BatchLimit(ceiling)
    for messages, seconds in commits:
        limit.observe(messages, seconds)
        assert min(limit.floor, ceiling) <= limit.size <= ceiling
        assert limit.second_batch_worth_it(limit.size)


async def test_messages_arriving_during_a_commit_wait_for_one_batch_not_a_queue_of_tiny_ones(tmp_path: Path) -> None:
    sizes: list[int] = []
    async with running_ingest(tmp_path, AllowListGate(set())) as (ingest, acks, store):
        ingest.on_committed.append(lambda events: sizes.append(len(events)))
        ingest.submit(message(DOOR_TOPIC, b"close", 100))
        await _until(lambda: acks.acked == [100])  # running: past loading its state from the store
        # Hold the store's thread, as a long fsync would.
        release = threading.Event()
        held = asyncio.ensure_future(store.call(lambda db: release.wait(30)))
        try:
            ingest.submit(message(DOOR_TOPIC, b"open", 1))
            await _until(lambda: ingest.waiting == 0)  # the first batch is with the store, queued behind the hold
            for mid in range(2, 11):
                ingest.submit(message(DOOR_TOPIC, b"open" if mid % 2 else b"close", mid))
                for _ in range(5):
                    await asyncio.sleep(0)  # let the flusher see each arrival on its own
            assert ingest.waiting == 9  # none handed on yet: a batch of one would not be worth its fsync
        finally:
            release.set()
        await held
        await _until(lambda: len(acks.acked) == 11)
    assert sizes == [1, 1, 9]
    assert sorted(acks.acked) == [*range(1, 11), 100]
