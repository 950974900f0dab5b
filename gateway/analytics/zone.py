"""One zone's live state: counted occupancy with drift correction, presence stretches from motion
sensors, anonymous BLE stays, recent checkout exits. Pure; `AnalyticsCore` feeds it in time order."""

from __future__ import annotations

from collections import deque

from gateway.analytics.settings import ZoneRole
from gateway.model.zone_tally import HourTally

# Checkout throughput for the live waiting time is taken over this window (Little's law).
WAIT_WINDOW_S = 600.0
# Devices present in one zone at once, at most: a flood of random MACs (someone broadcasting
# them) must not grow memory without bound on a Pi. Far above any shop's real crowd.
MAX_STAYS = 20_000


class ZoneState:
    __slots__ = (
        "name", "role", "counted", "has_counter", "motion", "stretch_start", "idle_since", "stays", "last_at",
        "minute_max", "exits_recent", "drift_resets", "clamped", "tally", "stay_pad_s",
    )

    def __init__(self, name: str, role: ZoneRole, hour: int, now: float, stay_pad_s: float = 0.0) -> None:
        self.name = name
        self.role = role
        self.counted = 0  # people counters: sum(in) - sum(out), never below 0
        self.has_counter = False
        self.motion: dict[str, bool] = {}  # motion sensor → occupied
        self.stretch_start: float | None = None  # the zone's current presence stretch began
        self.idle_since: float | None = None  # every motion sensor clear since
        self.stays: dict[bytes, list[float]] = {}  # anonymous id → [first seen, last seen]
        self.last_at = now  # occupancy integrated up to here
        self.minute_max = 0
        self.exits_recent: deque[tuple[float, int]] = deque()
        self.drift_resets = 0
        self.clamped = 0  # people counted out who were never counted in (missed entries)
        self.tally = HourTally(name, hour)
        # A stay is seen from its first to its last sighting; the time before the first and after
        # the last report is unseen: on average one reporting interval in all (docs/analytics.md).
        self.stay_pad_s = stay_pad_s

    # -- the figures -------------------------------------------------------------------------
    def occupancy(self) -> int:
        """People counters if the zone has one; else anonymous BLE devices present; else the
        number of motion sensors that see someone (a lower bound)."""
        if self.has_counter:
            return self.counted
        if self.stays:
            return len(self.stays)
        return sum(self.motion.values())

    def queue_length(self) -> int:
        return self.occupancy() if self.role is ZoneRole.CHECKOUT else 0

    def wait_s(self, now: float) -> float:
        """Little's law over the last ten minutes: people waiting / people served per second."""
        if self.role is not ZoneRole.CHECKOUT:
            return 0.0
        while self.exits_recent and self.exits_recent[0][0] < now - WAIT_WINDOW_S:
            self.exits_recent.popleft()
        served = sum(n for _, n in self.exits_recent)
        return self.queue_length() * WAIT_WINDOW_S / served if served else 0.0

    def dwell_s(self, now: float) -> float:
        """How long the zone's current presence stretch (motion) has lasted."""
        return max(0.0, now - self.stretch_start) if self.stretch_start is not None else 0.0

    def motion_count(self) -> int:
        return sum(self.motion.values())

    # -- changes (each integrates the occupancy up to `t` first) -----------------------------
    def integrate(self, t: float) -> None:
        if t > self.last_at:
            value = self.occupancy()
            self.tally.occupancy_integral += value * (t - self.last_at)
            self.last_at = t

    def _after_change(self) -> None:
        value = self.occupancy()
        if value > self.minute_max:
            self.minute_max = value
        if value > self.tally.occupancy_max:
            self.tally.occupancy_max = value

    def crossing(self, t: float, entered: int, left: int) -> None:
        self.integrate(t)
        self.has_counter = True
        total = self.counted + entered - left
        if total < 0:
            self.clamped += -total
        self.counted = max(0, total)
        self.tally.footfall_in += entered
        self.tally.footfall_out += left
        if left:
            self.tally.exits += left
            self.exits_recent.append((t, left))
        self._after_change()

    def motion_report(self, t: float, sensor: str, occupied: bool, timeout_s: float) -> None:
        self.integrate(t)
        was = any(self.motion.values())
        self.motion[sensor] = occupied
        now_any = any(self.motion.values())
        if now_any and not was:
            self.stretch_start = t
            self.idle_since = None
        elif was and not now_any:
            start = self.stretch_start if self.stretch_start is not None else t
            self.tally.visits += 1
            self.tally.dwell_sum_s += max(0.0, t - start - timeout_s)
            self.stretch_start = None
            self.idle_since = t
        elif not now_any and self.idle_since is None:
            self.idle_since = t
        self._after_change()

    def sighting(self, t: float, anonymous_id: bytes, gap_s: float) -> bool:
        """False when the zone is full of devices (MAX_STAYS) and this one is new: not counted."""
        stay = self.stays.get(anonymous_id)
        if stay is not None and t - stay[1] <= gap_s:
            stay[1] = t
        elif stay is None and len(self.stays) >= MAX_STAYS:
            return False
        else:
            self.integrate(t)
            if stay is not None:
                self._end_stay(stay)
            self.stays[anonymous_id] = [t, t]
            self._after_change()
        self.tally.note_device(anonymous_id)
        return True

    def sweep_stays(self, t: float, gap_s: float) -> None:
        """Devices not seen for `gap_s` have left: each stay becomes a visit with its dwell."""
        gone = [key for key, (_, last) in self.stays.items() if t - last > gap_s]
        if not gone:
            return
        # A device counts until it is found gone (up to `ble_gap_s` late): documented in docs/analytics.md.
        self.integrate(t)
        for key in gone:
            self._end_stay(self.stays[key])
        for key in gone:
            del self.stays[key]

    def end_all_stays(self, t: float) -> None:
        self.integrate(t)
        for stay in self.stays.values():
            self._end_stay(stay)
        self.stays.clear()

    def _end_stay(self, stay: list[float]) -> None:
        self.tally.device_visits += 1
        self.tally.device_dwell_sum_s += stay[1] - stay[0] + self.stay_pad_s

    def idle_reset(self, t: float, idle_reset_s: float) -> bool:
        """Drift correction: counted people in a zone whose motion sensors have all been idle for
        `idle_reset_s` have left uncounted; the count goes back to 0."""
        if (
            self.has_counter and self.counted > 0 and self.motion and self.idle_since is not None
            and t - self.idle_since >= idle_reset_s and not any(self.motion.values())
        ):
            self.integrate(t)
            self.counted = 0
            self.drift_resets += 1
            return True
        return False

    def closing_reset(self, t: float) -> None:
        """The shop's day is over: whoever the counters still count has left."""
        self.integrate(t)
        if self.counted:
            self.drift_resets += 1
        self.counted = 0
