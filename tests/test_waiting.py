"""A part's wait loop must stop when cancelled, even when its wake-up comes in the same loop turn.

On Python 3.11 `asyncio.wait_for` lost such a cancellation and the gateway never stopped (seen in CI:
the Home Assistant and sync parts kept looping after TaskGroup cancelled them)."""

import asyncio

import pytest

from gateway.waiting import wait_set, within


async def _loop_until_cancelled(event: asyncio.Event, rounds: list[int]) -> None:
    while True:
        await wait_set(event, 5)
        event.clear()
        rounds.append(1)


async def test_cancellation_with_a_simultaneous_wake_up_is_not_lost() -> None:
    for _ in range(50):
        event = asyncio.Event()
        rounds: list[int] = []
        task = asyncio.create_task(_loop_until_cancelled(event, rounds))
        await asyncio.sleep(0)  # the task now waits on the event
        event.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done == {task}, "the loop swallowed its cancellation"
        assert task.cancelled()


async def test_wait_set_reports_set_and_timeout() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 0.01) is True
    assert await wait_set(event, None) is True


async def test_within_returns_the_result_or_times_out() -> None:
    assert await within(asyncio.sleep(0, result="ok"), 1) == "ok"
    with pytest.raises(TimeoutError):
        await within(asyncio.sleep(1), 0.01)


def test_no_gateway_code_waits_with_asyncio_wait_for() -> None:
    """The rule above, kept: a new `asyncio.wait_for` in a loop would bring the hang back
    (one was found in the Wyoming satellite's pinger)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = []
    for package in ("gateway", "profile_service"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr == "wait_for" and isinstance(node.value, ast.Name) and node.value.id == "asyncio":
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, f"use gateway.waiting.within instead of asyncio.wait_for: {offenders}"
