"""How many messages ingest's next batch may take, adapted to how long commits take.

A batch is one transaction: one fsync however many events it holds, so under load bigger batches
cost less per event. But the store's thread holds a batch for as long as its rows take to write,
and the next batch (and every message in it) waits behind it; on a slow CPU a 1,000-event batch
takes over 100 ms. So the limit follows the commits: when a batch that was cut at the limit
commits slower than `target_s`, the limit shrinks in proportion; when full batches commit in under
half of it, it doubles again, up to `store.batch_max`. A batch smaller than `floor` says nothing
about the limit (a slow fsync of three events is the disk's, not the batch's).
"""

from __future__ import annotations

from dataclasses import dataclass

# Below this many events per commit the fsync dominates and a smaller batch gains nothing.
DEFAULT_FLOOR = 50
DEFAULT_TARGET_S = 0.05


@dataclass
class BatchLimit:
    ceiling: int
    target_s: float = DEFAULT_TARGET_S
    floor: int = DEFAULT_FLOOR

    def __post_init__(self) -> None:
        if self.ceiling < 1 or self.target_s <= 0:
            raise ValueError("a batch limit needs a ceiling of at least 1 and a positive target")
        self.floor = min(self.floor, self.ceiling)
        self.size = self.ceiling

    def observe(self, messages: int, seconds: float) -> None:
        """A batch of `messages` took `seconds` on the store's thread (rows, COMMIT and fsync)."""
        if seconds > self.target_s:
            if messages > self.floor:
                self.size = max(self.floor, min(self.size, int(messages * self.target_s / seconds)))
        elif messages >= self.size and seconds < self.target_s / 2:
            self.size = min(self.ceiling, self.size * 2)

    def second_batch_worth_it(self, waiting: int) -> bool:
        """Whether to hand the store a second batch while one is still committing. Building it
        early overlaps normalising with the fsync, which pays under load; a second batch of a few
        messages only queues another fsync in front of the messages that arrive meanwhile (they
        then wait for two fsyncs instead of one). Half a batch's worth is the line."""
        return waiting * 2 >= self.size
