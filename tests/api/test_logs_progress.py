"""JSON log lines (event ids, hashed customer ids, level from config) and the progress helper."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.api.part import log_committed_events
from gateway.config.settings import load_settings
from gateway.logs import JsonLineFormatter, event_fields, setup_logging, use_pseudonymiser
from gateway.model.event import Event
from gateway.progress import progress


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def personal_event() -> Event:
    return Event(received_at=1.0, site="shop1", device="reader1", kind="identify", purpose="service", customer_id="card:0042")


def test_event_lines_carry_the_id_and_never_the_customer(restore_root_logging: None) -> None:
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    event = personal_event()
    log_committed_events([event])
    logging.getLogger("x").info("bulk", extra={"fields": {"customer_ids": ["card:0042", "card:0043"]}})
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert lines[0]["event_id"] == event.id and lines[0]["kind"] == "identify" and lines[0]["level"] == "debug"
    assert "customer_id" not in lines[0] and lines[0]["customer"].startswith("c-")
    assert lines[1]["customers"][0] == lines[0]["customer"] and lines[1]["customers"][1] != lines[0]["customer"]
    assert "card:0042" not in buffer.getvalue()


def test_the_consent_key_makes_hashes_stable(restore_root_logging: None) -> None:
    buffer = io.StringIO()
    setup_logging("INFO", stream=buffer)
    use_pseudonymiser(lambda customer_id: f"p:{len(customer_id)}")
    logging.getLogger("x").info("seen", extra={"fields": event_fields(personal_event())})
    assert json.loads(buffer.getvalue())["customer"] == "p:9"


def test_level_comes_from_the_config(tmp_path: Path, restore_root_logging: None) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text("log_level: WARNING\n")
    buffer = io.StringIO()
    setup_logging(load_settings(config).log_level, stream=buffer)
    logging.getLogger("x").info("quiet")
    logging.getLogger("x").warning("loud")
    assert [json.loads(line)["msg"] for line in buffer.getvalue().splitlines()] == ["loud"]


def test_exceptions_are_one_line() -> None:
    formatter = JsonLineFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, exc_info=__import__("sys").exc_info())
    line = formatter.format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exc"]


def test_progress_bar_draws_on_a_terminal_only() -> None:
    shown = io.StringIO()
    with progress(total=500, description="export", unit="rows", stream=shown, enabled=True) as bar:
        for _ in range(5):
            bar.advance(100)
        bar.note("events")
        assert bar.done == 500
    assert "export" in shown.getvalue() and "100%" in shown.getvalue() and "500/500" in shown.getvalue()

    piped = io.StringIO()  # not a terminal: stays clean for logs and pipes
    with progress(total=10, description="drain", stream=piped) as bar:
        bar.advance(10)
    assert piped.getvalue() == ""


def test_progress_total_can_grow() -> None:
    shown = io.StringIO()
    with progress(total=None, description="drain", unit="events", stream=shown, enabled=True) as bar:
        bar.advance(3)
        bar.set_total(7)
        bar.advance(4)
    assert "7/7" in shown.getvalue()


def test_lines_written_around_the_bar_stay_whole() -> None:
    terminal = io.StringIO()  # output and bar on the same terminal
    with progress(total=3, description="replay", unit="lines", stream=terminal, enabled=True) as bar:
        bar.advance(1)
        bar.write("line 1: footfall", file=terminal)
        bar.advance(2)
    lines = terminal.getvalue().replace("\r", "\n").splitlines()
    assert "line 1: footfall" in lines  # on a line of its own, not glued to the bar

    out, err = io.StringIO(), io.StringIO()  # not a terminal: plain lines, no bar
    with progress(total=1, description="replay", stream=err) as bar:
        bar.write("line 1: footfall", file=out)
    assert out.getvalue() == "line 1: footfall\n" and err.getvalue() == ""
