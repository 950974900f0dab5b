"""The pure session state machine: speaking, per-session timeouts, the queue of a busy site."""

from __future__ import annotations

import pytest

from gateway.hermes.dialogue import DialogueStartSession, TerminationReason
from gateway.voice.session import Phase, SessionError, SessionTable


def test_speaking_does_not_time_out_and_only_the_latest_reply_counts() -> None:
    table = SessionTable()
    session, _ = table.start("a", 0.0, "en", own=True, timeout_s=2.0)
    first = session.speaking(1.0)
    assert table.expired(100.0) == []  # the TTS part always answers: no timeout while speaking
    second = session.speaking(1.5)  # e.g. endSession with text while a prompt was playing
    assert not session.is_current_speech(first) and session.is_current_speech(second)
    session.listen_again(None, 5.0)
    assert table.expired(6.9) == [] and table.expired(7.1) == [session]  # counted from the last step
    session.utterance_ended(7.0)
    session.recognised(7.2)
    session.waiting(8.0)
    assert session.phase is Phase.HANDLING and table.expired(9.9) == []
    table.finish(session, TerminationReason.NOMINAL)
    assert not session.is_current_speech(second)
    with pytest.raises(SessionError):
        session.speaking(9.0)


def test_a_busy_site_queues_starts_in_order_up_to_the_limit() -> None:
    table = SessionTable()
    busy, _ = table.start("desk", 0.0, "en", own=True)
    requests = [DialogueStartSession(siteId="desk", customData=str(i)) for i in range(3)]
    queued = [table.enqueue("desk", r, max_queued=2) for r in requests]
    assert queued[2] is None and queued[0] is not None and queued[1] is not None
    assert table.next_queued("desk") is None  # the site is still busy
    assert table.next_queued("door") is None
    table.finish(busy, TerminationReason.NOMINAL)
    assert table.next_queued("desk") == queued[0]
    table.start("desk", 1.0, "en", own=True, session_id=queued[0].session_id)
    assert table.next_queued("desk") is None
    table.finish(table.at("desk"), TerminationReason.NOMINAL)  # type: ignore[arg-type]
    assert table.next_queued("desk") == queued[1] and table.queued == {}
