"""No synced aggregate can single out fewer than k people or devices (hypothesis)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.analytics.anonymous import DailyHasher
from gateway.analytics.core import AnalyticsCore, CoreConfig
from gateway.analytics.release import Aggregate, plan_release
from gateway.analytics.service import aggregate_events, day_of_hour
from gateway.analytics.settings import ZoneRole
from gateway.model.zone_tally import ALL_GROUPS, Group, HourTally
from gateway.model.event import Event
from gateway.rules.index import Zones

DAY = int(dt.datetime(2026, 12, 3, tzinfo=dt.UTC).timestamp())
DAY_OF = day_of_hour("UTC")
POPULATION_FIELD = {Group.FOOTFALL: "footfall", Group.VISITS: "visits", Group.DEVICES: "devices", Group.WAIT: "exits", Group.TILLS: "tills"}

small = st.integers(0, 9)
tallies = st.lists(
    st.builds(
        lambda zone, hour, ff, visits, devices, exits, tills: HourTally(
            zone, DAY + hour * 3600, footfall_in=ff, footfall_out=ff, visits=visits, dwell_sum_s=visits * 30.0,
            devices=devices, device_visits=devices, device_dwell_sum_s=devices * 40.0, exits=exits,
            occupancy_integral=ff * 100.0, occupancy_max=ff, tills=tills,
        ),
        st.sampled_from(["entrance", "coffee", "checkout"]), st.integers(0, 47), small, small, small, small, small,
    ),
    max_size=60,
    unique_by=lambda t: (t.zone, t.hour),
)


def release_over_time(rows: list[HourTally], k: int, steps: list[float]) -> list[Aggregate]:
    """Release repeatedly as time passes, keeping the settled bits as the store does."""
    out: list[Aggregate] = []
    for now in sorted(steps):
        release = plan_release([r for r in rows if r.settled != sum(ALL_GROUPS)], k, now, 300.0, DAY_OF)
        out.extend(release.aggregates)
    return out


@settings(max_examples=300, deadline=None)
@given(tallies, st.integers(2, 8), st.lists(st.floats(DAY, DAY + 4 * 86400), max_size=6))
def test_every_synced_group_counts_at_least_k_and_none_is_synced_twice(rows: list[HourTally], k: int, steps: list[float]) -> None:
    aggregates = release_over_time(rows, k, steps + [DAY + 5 * 86400])
    by_key = {(r.zone, r.hour): r for r in rows}
    seen: set[tuple[str, int, int]] = set()
    for aggregate in aggregates:
        assert aggregate.populations and min(aggregate.populations.values()) >= k
        assert not (aggregate.covered & seen), "a group left the shop twice (differencing)"
        seen |= aggregate.covered
        # Recompute every population from the tallies themselves, not from the aggregate's word.
        for group in {Group(g) for _, _, g in aggregate.covered}:
            members = [by_key[(z, h)].population(group) for z, h, g in aggregate.covered if g == group]
            true = max(members) if group is Group.DEVICES else sum(members)
            assert true >= k
            assert aggregate.populations[POPULATION_FIELD[group]] == true
    # After every day has closed, each non-empty group was released, merged or suppressed.
    for row in rows:
        assert row.settled == sum(ALL_GROUPS)


def _sighting(t: float, receiver: str, mac: str) -> Event:
    return Event(received_at=t, site=receiver, device=mac.replace(":", ""), kind="beacon", purpose="analytics", attributes={"mac": mac, "rssi": -60})


def _counter(t: float, period_in: int) -> Event:
    return Event(received_at=t, site="shop1", device="door-counter", kind="footfall", purpose="analytics", attributes={"period_in": period_in, "period_out": 0})


macs = st.sampled_from([f"AA:BB:CC:00:00:{i:02X}" for i in range(12)])
raw_events = st.lists(
    st.one_of(
        st.builds(lambda s, r, m: ("ble", s, r, m), st.floats(0, 3 * 3600), st.sampled_from(["ble-a", "ble-b"]), macs),
        st.builds(lambda s, n: ("count", s, n, ""), st.floats(0, 3 * 3600), st.integers(0, 4)),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(raw_events, st.integers(2, 6))
def test_from_raw_sightings_no_synced_figure_rests_on_fewer_than_k(raw: list[tuple[str, float, object, str]], k: int) -> None:
    """End to end through the core: the distinct raw MACs (or counted crossings) behind every
    synced zone-hour figure, counted from the raw events by this test, are at least k; and no MAC
    or anonymous id appears in anything synced."""
    zones = Zones({"a": ["ble-a", "shop1/door-*"], "b": ["ble-b"]})
    hasher = DailyHasher(b"property-test-key-19-19")
    core = AnalyticsCore(zones.of, {"a": ZoneRole.ENTRANCE, "b": ZoneRole.AISLE}, hasher, CoreConfig(timezone="UTC"), start=DAY)
    made = [_sighting(DAY + s, str(r), m) if kind == "ble" else _counter(DAY + s, int(r)) for kind, s, r, m in raw]  # type: ignore[call-overload]
    events = sorted(made, key=lambda e: e.received_at)
    core.observe_all(events)
    core.advance(DAY + 86400 + 7200)
    rows = core.take_closed()
    release = plan_release(rows, k, DAY + 3 * 86400, 300.0, DAY_OF)
    for aggregate in release.aggregates:
        for zone, hour, group in aggregate.covered:
            inside = [e for e in events if hour <= e.received_at < hour + 3600 and zone in zones.of(e.site, e.device)]
            if group == Group.DEVICES and aggregate.level == "hour":
                assert len({e.attributes["mac"] for e in inside if e.kind == "beacon"}) >= k
            if group == Group.FOOTFALL and aggregate.level == "hour":
                assert sum(int(e.attributes["period_in"]) for e in inside if e.kind == "footfall") >= k  # type: ignore[call-overload]
    bodies = " ".join(str(e.attributes) for e in aggregate_events(release, "shop1", k, DAY + 3 * 86400))
    for mac in {e.attributes["mac"] for e in events if e.kind == "beacon"}:
        assert str(mac) not in bodies and str(mac).replace(":", "") not in bodies
        assert hasher.anonymous_id(str(mac), "2026-12-03").hex() not in bodies
