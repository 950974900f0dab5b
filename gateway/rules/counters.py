"""Local counters over windows, kept from the events themselves. Pure; persisted by the adapter.

- occupancy: since when a device (and so its zones) has been occupied → dwell time;
- footfall: people counted in (`period_in` of footfall events) per site and zone, over a window;
- visits: when each customer's visits started (an identify after `visit_gap` starts a new one);
- presence: which customer was identified in a zone or site lately (not persisted: short-lived).

Every change marks its key dirty; the adapter writes dirty keys after each batch. A footfall series
is written incrementally (`take_footfall`): the samples added since the last write and where the
series now starts, never the whole series: a busy counter's series holds up to 20 000 samples, and
writing it whole after every batch cost ~13 ms and a ~400 kB JSON value (and as much WAL) per batch.

Sites, devices and zones come from MQTT topics, so the keys are the network's choice: ever-new
site names must not grow memory without bound. Every `_PRUNE_EVERY` observations (and at once when
a map passes its cap) `prune` drops what no window can see any more (a footfall series with no
sample within the retention, presence that has expired, a visit list whose last start is past the
retention, an occupancy older than the retention), then, if a map is still over its cap, the
entries least recently seen, down to 90 % of the cap (`MAX_PLACES`, `MAX_DEVICES`, `MAX_CUSTOMERS`).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from gateway.model.event import Event

# Nothing older than this is kept (the longest window a rule may ask about is bounded by it).
RETENTION_S = 35 * 86400.0
_MAX_SAMPLES = 20_000
# Caps on the keyed maps; a shop has a few sites, tens of zones, hundreds of devices.
MAX_PLACES = 5_000  # footfall series and presence entries (site:… and zone:…)
MAX_DEVICES = 20_000  # occupied devices
MAX_CUSTOMERS = 100_000  # customers with visits in the retention window
_PRUNE_EVERY = 4096

V = TypeVar("V")


class FootfallWrite(NamedTuple):
    """What changed in one footfall series since the last write. Samples are numbered per series
    (`seq`, from 0, never reused while the series lives), so appending is idempotent and dropping
    the oldest is one range delete. `keep_from` None: the series is gone, delete all of it."""

    place: str
    keep_from: int | None  # rows with seq < keep_from have left the window
    samples: list[tuple[int, float, int]]  # (seq, at, count), new since the last write


class Counters:
    def __init__(self, retention_s: float = RETENTION_S) -> None:
        self.retention_s = retention_s
        self.occupied_since: dict[str, float] = {}
        self.zone_devices: dict[str, set[str]] = {}
        self.footfall: dict[str, WindowSum] = {}
        self.visits: dict[str, list[float]] = {}
        self.presence: dict[str, tuple[str, float]] = {}
        self.dirty: set[str] = set()
        self.dirty_footfall: set[str] = set()  # places whose series changed since take_footfall
        self._dropped_footfall: set[str] = set()  # places whose stored series must be deleted
        self._until_prune = _PRUNE_EVERY

    # -- bounding memory -------------------------------------------------------------------
    def prune(self, now: float) -> None:
        """Drop what no window can see any more, then the least recently seen beyond the caps."""
        cutoff = now - self.retention_s
        for place in [p for p, w in self.footfall.items() if w.last_at() < cutoff]:
            self._drop_footfall(place)
        for place, _ in _oldest_beyond(self.footfall, MAX_PLACES, lambda w: w.last_at()):
            self._drop_footfall(place)
        for place in [p for p, (_, until) in self.presence.items() if until < now]:
            del self.presence[place]
        for place, _ in _oldest_beyond(self.presence, MAX_PLACES, lambda v: v[1]):
            del self.presence[place]
        for device_key in [d for d, since in self.occupied_since.items() if since < cutoff]:
            self._drop_occupied(device_key)
        # Beyond the cap, the longest occupied go first: most likely sensors stuck "occupied".
        for device_key, _ in _oldest_beyond(self.occupied_since, MAX_DEVICES, lambda since: since):
            self._drop_occupied(device_key)
        # zone_devices only serves to find occupied devices: the others can go.
        for zone in list(self.zone_devices):
            devices = self.zone_devices[zone] = {d for d in self.zone_devices[zone] if d in self.occupied_since}
            if not devices:
                del self.zone_devices[zone]
        for customer in [c for c, starts in self.visits.items() if not starts or starts[-1] < cutoff]:
            self._drop_visits(customer)
        for customer, _ in _oldest_beyond(self.visits, MAX_CUSTOMERS, lambda starts: starts[-1]):
            self._drop_visits(customer)
        self._until_prune = _PRUNE_EVERY

    def _drop_footfall(self, place: str) -> None:
        del self.footfall[place]
        self._dropped_footfall.add(place)
        self.dirty_footfall.add(place)

    def _drop_occupied(self, device_key: str) -> None:
        del self.occupied_since[device_key]
        self.dirty.add(f"occupied:{device_key}")

    def _drop_visits(self, customer_id: str) -> None:
        del self.visits[customer_id]
        self.dirty.add(f"visits:{customer_id}")

    def _over_cap(self) -> bool:
        return (
            len(self.footfall) > MAX_PLACES or len(self.presence) > MAX_PLACES
            or len(self.occupied_since) > MAX_DEVICES or len(self.visits) > MAX_CUSTOMERS
        )

    # -- observing events ------------------------------------------------------------------
    def observe(self, event: Event, zones: tuple[str, ...]) -> None:
        self._until_prune -= 1
        if self._until_prune <= 0 or self._over_cap():
            self.prune(event.received_at)
        kind = event.kind
        if kind == "occupancy":
            occupied = event.attributes.get("occupancy")
            if isinstance(occupied, bool):
                self._occupancy(f"{event.site}/{event.device}", zones, occupied, event.received_at)
        elif kind == "footfall":
            count = event.attributes.get("period_in")
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                for place in (f"site:{event.site}", *(f"zone:{z}" for z in zones)):
                    self._add_footfall(place, event.received_at, count)

    def _occupancy(self, device_key: str, zones: tuple[str, ...], occupied: bool, at: float) -> None:
        for zone in zones:
            self.zone_devices.setdefault(zone, set()).add(device_key)
        key = f"occupied:{device_key}"
        if occupied:
            # A motion sensor repeats "occupied": the dwell counts from the first one.
            if device_key not in self.occupied_since:
                self.occupied_since[device_key] = at
                self.dirty.add(key)
        elif self.occupied_since.pop(device_key, None) is not None:
            self.dirty.add(key)

    def _add_footfall(self, place: str, at: float, count: int) -> None:
        samples = self.footfall.get(place)
        if samples is None:
            samples = self.footfall[place] = WindowSum()
        samples.add(at, count, at - self.retention_s)
        self.dirty_footfall.add(place)

    def register_visit(self, customer_id: str, at: float, gap_s: float) -> bool:
        """An identify of the customer: a new visit unless the last one started under `gap_s` ago
        (and was still going). Returns True when a visit started."""
        starts = self.visits.setdefault(customer_id, [])
        key = f"visits:{customer_id}"
        if starts and at - starts[-1] < gap_s:
            return False
        starts.append(at)
        cutoff = at - self.retention_s
        while starts and starts[0] < cutoff:
            starts.pop(0)
        self.dirty.add(key)
        return True

    def bind_presence(self, customer_id: str, site: str, zones: tuple[str, ...], until: float) -> None:
        for place in (f"site:{site}", *(f"zone:{z}" for z in zones)):
            self.presence[place] = (customer_id, until)

    # -- reading ---------------------------------------------------------------------------
    def present_customer(self, site: str, zones: tuple[str, ...], now: float) -> str | None:
        """The customer identified most specifically here (a zone before the whole site), if recent."""
        for place in (*(f"zone:{z}" for z in zones), f"site:{site}"):
            found = self.presence.get(place)
            if found is not None and found[1] >= now:
                return found[0]
        return None

    def dwell(self, site: str, device: str, zones: tuple[str, ...], now: float) -> float:
        """Seconds the event's device, or any device of its zones, has been continuously occupied."""
        keys = {f"{site}/{device}"}
        for zone in zones:
            keys.update(self.zone_devices.get(zone, ()))
        since = [self.occupied_since[k] for k in keys if k in self.occupied_since]
        return max(0.0, now - min(since)) if since else 0.0

    def footfall_in(self, site: str, zones: tuple[str, ...], window_s: float, now: float) -> int:
        """People counted in over the window, in the event's zone if it has one, else the site."""
        samples = self.footfall.get(f"zone:{zones[0]}" if zones else f"site:{site}")
        return samples.total(now - window_s, now) if samples is not None else 0

    def visits_in(self, customer_id: str, window_s: float, now: float) -> int:
        starts = self.visits.get(customer_id)
        if not starts:
            return 0
        return len(starts) - bisect.bisect_left(starts, now - window_s)

    def visit_start(self, customer_id: str) -> float | None:
        starts = self.visits.get(customer_id)
        return starts[-1] if starts else None

    # -- persistence -----------------------------------------------------------------------
    def take_dirty(self) -> list[tuple[str, Any]]:
        """(key, value) pairs of occupancy and visits changed since the last call; value None
        means delete. Footfall: `take_footfall`."""
        out: list[tuple[str, Any]] = []
        for key in self.dirty:
            kind, _, name = key.partition(":")
            if kind == "occupied":
                since = self.occupied_since.get(name)
                out.append((key, None if since is None else {"since": since}))
            elif kind == "visits":
                starts = self.visits.get(name)
                out.append((key, None if starts is None else {"starts": starts}))
        self.dirty.clear()
        return out

    def take_footfall(self) -> list[FootfallWrite]:
        """The footfall changes since the last call, in the order to apply them: a series dropped
        (and maybe started again since) is deleted before its new samples are written."""
        out = [FootfallWrite(place, None, []) for place in self._dropped_footfall]
        for place in self.dirty_footfall:
            series = self.footfall.get(place)
            if series is not None:
                out.append(series.take_unsaved(place))
        self._dropped_footfall.clear()
        self.dirty_footfall.clear()
        return out

    def restore_footfall(self, series: dict[str, list[tuple[int, float, int]]]) -> None:
        """Load what `take_footfall` wrote, after a restart: (seq, at, count) in seq order."""
        for place, samples in series.items():
            if samples:
                self.footfall[place] = WindowSum.restored(samples)

    def restore(self, rows: list[tuple[str, Any]], zones_of: Any = None) -> None:
        """Load what `take_dirty` wrote, after a restart."""
        for key, value in rows:
            kind, _, name = key.partition(":")
            if kind == "occupied":
                self.occupied_since[name] = float(value["since"])
                site, _, device = name.partition("/")
                for zone in zones_of(site, device) if zones_of else ():
                    self.zone_devices.setdefault(zone, set()).add(name)
            elif kind == "visits":
                self.visits[name] = [float(s) for s in value["starts"]]

    def forget_customer(self, customer_id: str) -> None:
        if self.visits.pop(customer_id, None) is not None:
            self.dirty.add(f"visits:{customer_id}")
        for place in [p for p, (c, _) in self.presence.items() if c == customer_id]:
            del self.presence[place]


def _oldest_beyond(entries: dict[str, V], cap: int, seen: Callable[[V], float]) -> list[tuple[str, V]]:
    """The entries to evict once `entries` is over `cap`: those `seen` least recently, down to 90 %
    of the cap, so that a stream of new names prunes once per cap/10 names, not on every one."""
    if len(entries) <= cap:
        return []
    excess = len(entries) - cap * 9 // 10
    if excess <= 0:
        return []
    return heapq.nsmallest(excess, entries.items(), key=lambda item: seen(item[1]))


class WindowSum:
    """Timestamped counts with running totals: the sum over any window is two bisections.

    Sample i of the lists is sample number `first_seq + i` of the series; the samples numbered
    below `saved_seq` are in the store already (see `take_unsaved`)."""

    __slots__ = ("times", "totals", "_start", "first_seq", "saved_seq")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.totals: list[int] = []  # totals[i] = sum of counts up to and including i
        self._start = 0  # entries before this index have left the retention window
        self.first_seq = 0  # the number of times[0]
        self.saved_seq = 0  # samples numbered below this are in the store

    @classmethod
    def restored(cls, samples: list[tuple[int, float, int]]) -> WindowSum:
        """A series as the store holds it: consecutive (seq, at, count), all already saved."""
        window = cls()
        window.first_seq = samples[0][0]
        for _, at, count in samples:
            window.add(float(at), int(count), float("-inf"))
        window.saved_seq = samples[-1][0] + 1
        return window

    def add(self, at: float, count: int, drop_before: float) -> None:
        if self.times and at < self.times[-1]:
            at = self.times[-1]  # out-of-order clocks: keep the list sorted
        self.times.append(at)
        self.totals.append((self.totals[-1] if self.totals else 0) + count)
        self._start = max(bisect.bisect_left(self.times, drop_before, self._start), len(self.times) - _MAX_SAMPLES)
        if self._start > len(self.times) // 2 and self._start > 64:
            del self.times[: self._start]
            base = self.totals[self._start - 1]
            self.totals = [t - base for t in self.totals[self._start :]]
            self.first_seq += self._start
            self._start = 0

    def take_unsaved(self, place: str) -> FootfallWrite:
        """The samples added since the last call, and where the series starts now."""
        end = self.first_seq + len(self.times)
        keep_from = self.first_seq + self._start
        new_from = max(self.saved_seq, keep_from)
        samples = []
        for i in range(new_from - self.first_seq, len(self.times)):
            previous = self.totals[i - 1] if i > 0 else 0
            samples.append((self.first_seq + i, self.times[i], self.totals[i] - previous))
        self.saved_seq = end
        return FootfallWrite(place, keep_from, samples)

    def last_at(self) -> float:
        return self.times[-1] if len(self.times) > self._start else float("-inf")

    def total(self, since: float, until: float) -> int:
        """Sum of the counts with since <= time <= until."""
        times = self.times
        low = bisect.bisect_left(times, since, self._start)
        high = bisect.bisect_right(times, until, low)
        if high <= low:
            return 0
        return self.totals[high - 1] - (self.totals[low - 1] if low > 0 else 0)

    def pairs(self) -> list[list[float]]:
        """[time, count] of the samples in the window (for inspection and tests)."""
        out, previous = [], self.totals[self._start - 1] if self._start > 0 else 0
        for at, running in zip(self.times[self._start :], self.totals[self._start :], strict=True):
            out.append([at, running - previous])
            previous = running
        return out
