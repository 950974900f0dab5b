"""The pure core: drift correction, presence stretches, anonymous stays and their daily salt,
and that nothing identifying reaches the SQLite file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gateway.analytics.anonymous import DailyHasher, OwnBeacons
from gateway.analytics.core import AnalyticsCore, CoreConfig
from gateway.analytics.settings import ZoneRole
from gateway.model.event import Event
from gateway.rules.index import Zones
from gateway.store.analytics_rows import load_hours, write_figures
from gateway.store.database import connect

DAY = dt.datetime(2026, 12, 3, tzinfo=dt.UTC).timestamp()
ZONES = Zones({"entrance": ["shop1/door-*"], "checkout": ["shop1/lane-*", "ble-till"], "coffee": ["shop1/coffee-*", "ble-coffee"]})
ROLES = {"entrance": ZoneRole.ENTRANCE, "checkout": ZoneRole.CHECKOUT, "coffee": ZoneRole.AISLE}


def core(**config: object) -> AnalyticsCore:
    return AnalyticsCore(ZONES.of, ROLES, DailyHasher(b"k" * 32), CoreConfig(timezone="UTC", **config), OwnBeacons(["C0:FF:EE*"]), start=DAY)  # type: ignore[arg-type]


def ev(t: float, site: str, device: str, kind: str, **attributes: object) -> Event:
    return Event(received_at=DAY + t, site=site, device=device, kind=kind, purpose="analytics", attributes=attributes)  # type: ignore[arg-type]


def test_counted_occupancy_never_goes_below_zero_and_counts_the_missed_entries() -> None:
    c = core()
    c.observe(ev(10, "shop1", "door-counter", "footfall", period_in=2, period_out=0))
    c.observe(ev(70, "shop1", "door-counter", "footfall", period_in=0, period_out=5))
    assert c.figures("entrance")["occupancy"] == 0
    assert c.zones["entrance"].clamped == 3


def test_idle_motion_resets_a_drifted_count_and_the_day_end_resets_every_count() -> None:
    c = core(idle_reset_s=600)
    c.observe(ev(0, "shop1", "lane-counter", "footfall", period_in=4, period_out=1))
    c.observe(ev(5, "shop1", "lane-motion", "occupancy", occupancy=True))
    c.observe(ev(60, "shop1", "lane-motion", "occupancy", occupancy=False))
    c.advance(DAY + 600)
    assert c.figures("checkout")["queue_length"] == 3  # idle for 540 s: not yet
    c.advance(DAY + 700)
    assert c.figures("checkout")["queue_length"] == 0
    assert c.zones["checkout"].drift_resets == 1
    c.observe(ev(800, "shop1", "door-counter", "footfall", period_in=7, period_out=0))
    c.advance(DAY + 86400 + 1)
    assert c.figures("entrance")["occupancy"] == 0


def test_presence_stretch_is_one_visit_with_its_dwell_minus_the_sensor_hold() -> None:
    c = core(motion_timeout_s=30)
    c.observe(ev(100, "shop1", "coffee-pir-1", "occupancy", occupancy=True))
    c.observe(ev(120, "shop1", "coffee-pir-2", "occupancy", occupancy=True))
    c.advance(DAY + 150)
    assert c.figures("coffee")["dwell_s"] == 50
    c.observe(ev(160, "shop1", "coffee-pir-1", "occupancy", occupancy=False))
    c.observe(ev(200, "shop1", "coffee-pir-2", "occupancy", occupancy=False))
    tally = c.zones["coffee"].tally
    assert (tally.visits, tally.dwell_sum_s) == (1, 70.0)
    assert c.figures("coffee")["dwell_s"] == 0


def test_anonymous_stays_give_dwell_and_the_shops_own_beacons_are_not_people() -> None:
    c = core(ble_gap_s=60)
    for t in range(0, 100, 10):
        c.observe(ev(t, "ble-coffee", "x", "beacon", mac="11:22:33:44:55:66", rssi=-60))
        c.observe(ev(t, "ble-coffee", "y", "beacon", mac="C0:FF:EE:00:00:01", rssi=-40))
    c.observe(ev(50, "ble-coffee", "z", "beacon", mac="AA:AA:AA:AA:AA:AA", rssi=-100))  # too weak
    assert c.figures("coffee")["devices"] == 1
    c.advance(DAY + 200)
    tally = c.zones["coffee"].tally
    assert (tally.devices, tally.device_visits, tally.device_dwell_sum_s) == (1, 1, 90.0)
    assert c.counts.own_beacons == 10 and c.counts.weak_sightings == 1


def test_the_same_device_gets_another_anonymous_id_the_next_day() -> None:
    hasher = DailyHasher(b"k" * 32)
    assert hasher.anonymous_id("11:22:33:44:55:66", "2026-12-03") == hasher.anonymous_id("112233445566", "2026-12-03")
    assert hasher.anonymous_id("11:22:33:44:55:66", "2026-12-03") != hasher.anonymous_id("11:22:33:44:55:66", "2026-12-04")
    assert DailyHasher(b"j" * 32).anonymous_id("11:22:33:44:55:66", "2026-12-03") != hasher.anonymous_id("11:22:33:44:55:66", "2026-12-03")
    assert "kkkk" not in repr(hasher)


def test_nothing_identifying_reaches_the_database(tmp_path: Path) -> None:
    c = core()
    mac = "DE:AD:BE:EF:00:19"
    for t in range(0, 4000, 15):
        c.observe(ev(t, "ble-till", "x", "beacon", mac=mac, rssi=-60))
    c.advance(DAY + 4000)
    db = connect(tmp_path / "a.db")
    write_figures(db, c.take_closed() + c.open_tallies(), c.take_series(), 0, 0)
    assert [t.devices for t in load_hours(db, DAY)] == [1, 1]
    db.conn.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    anonymous = DailyHasher(b"k" * 32).anonymous_id(mac, "2026-12-03")
    for needle in (mac.encode(), mac.replace(":", "").encode(), mac.replace(":", "").lower().encode(), anonymous):
        assert needle not in raw


def test_events_out_of_zones_and_without_their_figure_are_counted_not_fatal() -> None:
    c = core()
    c.observe(ev(1, "elsewhere", "x", "footfall", period_in=1, period_out=0))
    c.observe(ev(2, "shop1", "door-counter", "footfall", period_in="1", period_out=0))
    c.observe(ev(3, "ble-till", "x", "beacon", rssi=-50))
    c.observe(ev(1, "shop1", "door-counter", "footfall", period_in=1, period_out=0))  # late: taken as now
    assert (c.counts.outside_zones, c.counts.unusable, c.counts.late) == (1, 2, 1)
    assert c.figures("entrance")["occupancy"] == 1


def test_a_clock_set_back_rebases_instead_of_counting_into_the_future() -> None:
    c = core()
    c.observe(ev(86400 * 30, "shop1", "door-counter", "footfall", period_in=3, period_out=0))  # a month ahead
    c.observe(ev(100, "shop1", "door-counter", "footfall", period_in=2, period_out=0))  # corrected
    assert c.counts.clock_jumps == 1 and c.counts.late == 0
    future = [t for t in c.take_closed() if t.hour >= DAY + 86400 * 30 - 3600]
    assert [t.footfall_in for t in future] == [3]
    assert c.zones["entrance"].tally.hour == DAY and c.zones["entrance"].tally.footfall_in == 2


def test_a_flood_of_random_macs_is_bounded_and_undercounted() -> None:
    from gateway.analytics import zone
    from gateway.model import zone_tally as tally

    c = core(ble_gap_s=600)
    flood = zone.MAX_STAYS + 500
    for i in range(flood):
        c.observe(ev(i * 0.01, "ble-coffee", "x", "beacon", mac=f"02:00:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}:00", rssi=-60))
    state = c.zones["coffee"]
    assert len(state.stays) == zone.MAX_STAYS and c.counts.stays_capped == 500
    assert state.tally.devices == zone.MAX_STAYS <= tally.SEEN_MAX


def test_a_role_for_a_zone_the_rules_do_not_define_is_a_config_error(tmp_path: Path) -> None:
    from gateway.analytics.part import PART
    from gateway.config.settings import Settings

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "z.yaml").write_text('zones: {checkout: ["shop1/lane-*"]}\nrules: []\n')
    settings = Settings(rules={"dir": tmp_path / "rules"}, analytics={"zones": {"checkout": {"role": "checkout"}, "tills": {"role": "checkout"}}})  # type: ignore[arg-type]
    (problem,) = PART.check(settings)
    assert problem.field == "analytics.zones.tills" and "unknown zone 'tills'" in problem.message


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", ""]), st.booleans())
def test_the_public_anonymous_id_is_the_one_analytics_counts_with(mac: bytes, separator: str, upper: bool) -> None:
    """gateway/anonymous_id.py is what other code (ingest's BLE handling) may reuse: any spelling
    of a MAC gets the analytics part's id for the day."""
    from gateway.anonymous_id import anonymous_id, daily_salt

    spelled = separator.join(f"{b:02x}" for b in mac)
    spelled = spelled.upper() if upper else spelled
    secret = b"s" * 32
    expected = DailyHasher(secret).anonymous_id(mac.hex(), "2026-12-03")
    assert anonymous_id(daily_salt(secret, "2026-12-03"), spelled) == expected
    assert anonymous_id(daily_salt(secret, "2026-12-04"), spelled) != expected


def test_the_daily_salt_s_secret_is_derived_for_its_purpose() -> None:
    """The analytics part gets HMAC(pseudonym key, purpose) through DERIVE_SECRET: not the key,
    not another purpose's secret, and the same after a restart."""
    from gateway.analytics.part import SALT_PURPOSE
    from gateway.consent.pseudonym import Pseudonymiser

    key = b"p" * 32
    secret = Pseudonymiser(key).derive(SALT_PURPOSE)
    assert len(secret) == 32 and key not in secret and secret != key
    assert secret == Pseudonymiser(key).derive(SALT_PURPOSE)
    assert secret != Pseudonymiser(key).derive("another.purpose") and secret != Pseudonymiser(b"q" * 32).derive(SALT_PURPOSE)
