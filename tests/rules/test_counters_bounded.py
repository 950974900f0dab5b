"""The rules' counters are keyed by site, device and zone names taken from MQTT topics: ever-new
names must not grow memory without bound."""

from __future__ import annotations

from gateway.rules import counters as counters_module
from gateway.rules.counters import MAX_DEVICES, MAX_PLACES, Counters
from tests.rules.support import T0, event


def test_series_without_samples_in_their_window_are_dropped() -> None:
    counters = Counters(retention_s=3600.0)
    for n in range(100):
        counters.observe(event("footfall", at=T0, site=f"gone-{n}", period_in=1), ())
    counters.take_footfall()
    later = T0 + 7200.0  # past the retention of every gone-* sample
    for n in range(counters_module._PRUNE_EVERY):
        counters.observe(event("footfall", at=later + n / 10, site="main", period_in=2), ())
    assert set(counters.footfall) == {"site:main"}
    assert counters.footfall_in("main", (), 3600.0, later + 500) == 2 * counters_module._PRUNE_EVERY
    written = {place: keep_from for place, keep_from, _ in counters.take_footfall()}
    # The dropped series are deleted from the store too (None), not kept there as empty rows.
    assert written["site:gone-7"] is None and written["site:main"] == 0


def test_ever_new_sites_are_capped_keeping_the_most_recent() -> None:
    counters = Counters()
    for n in range(MAX_PLACES * 2 + 500):
        counters.observe(event("footfall", at=T0 + n, site=f"site-{n}", period_in=1), ())
        assert len(counters.footfall) <= MAX_PLACES + 1
    last = MAX_PLACES * 2 + 499
    assert counters.footfall_in(f"site-{last}", (), 60.0, T0 + last) == 1
    assert "site:site-0" not in counters.footfall


def test_expired_presence_and_old_visits_are_dropped() -> None:
    counters = Counters(retention_s=3600.0)
    for n in range(50):
        counters.bind_presence(f"c{n}", f"kiosk-{n}", ("zone-a",), until=T0 + 60)
        counters.register_visit(f"c{n}", T0, gap_s=600)
    counters.register_visit("regular", T0 + 7000, gap_s=600)
    counters.prune(T0 + 7200)
    assert counters.presence == {}
    assert set(counters.visits) == {"regular"}
    assert counters.visits_in("regular", 3600, T0 + 7200) == 1


def test_devices_stuck_occupied_under_ever_new_names_are_capped() -> None:
    counters = Counters()
    for n in range(MAX_DEVICES + 3000):
        counters.observe(event("occupancy", at=T0 + n, site=f"s{n % 7}", device=f"pir-{n}", occupancy=True), ("entrance",))
    assert len(counters.occupied_since) <= MAX_DEVICES + 1
    # The zone's device set only ever holds devices still known to be occupied.
    assert counters.zone_devices["entrance"] <= set(counters.occupied_since) | {f"s{(MAX_DEVICES + 2999) % 7}/pir-{MAX_DEVICES + 2999}"}
    assert len(counters.zone_devices["entrance"]) <= MAX_DEVICES + counters_module._PRUNE_EVERY
    # The newest device's dwell is still measured.
    newest = MAX_DEVICES + 2999
    assert counters.dwell(f"s{newest % 7}", f"pir-{newest}", (), T0 + newest + 30) == 30
