"""Durable timers: where due times live and how they fire.

Faust timers (`@app.timer`) run outside the agents, and a table written from outside the
agent that owns it races the agent's own writes (the agent reads a state, awaits the
broker, writes it back, and a timer's write in between is lost). So nothing but the lead
agent ever writes lead state, and time reaches that agent as messages:

- Due times live in the lead state itself (the core's `LeadState.timers`), so they are in
  the changelog, survive restarts and move with their partition on a rebalance.
- Every worker sends a tick (`leads.timer-ticks.v1`) to each tick partition it owns, every
  `SCORER_TIMER_TICK_INTERVAL_S`. The tick topic is co-partitioned with the lead topics and
  consumed by the lead agent, so a tick for partition p is handled by p's owner, in order
  with p's events, and fires the due timers of p's leads through the core's `fire_due`,
  exactly like an event: the same phases, the same outputs, the same state write.
- Which leads are due is an in-memory index per partition (a heap of next due time → key),
  built from the table from a partition's first tick after it was assigned, and updated
  with every state the agent writes. At 1M leads a partition holds ~250,000 states, so
  the build runs in time-boxed slices between the agents' batches (timer_index.py): a
  timer overdue after downtime fires on the first tick after the build reached its lead
  (the first tick itself for a small table), or at its lead's next event, whichever is
  first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class DueIndex:
    """Per partition: when to look at which lead again (a min-heap of wake-ups).

    A wake-up is a promise to look, not a timer: the caller asks the core what is due
    when it pops a lead, and sets the next wake-up from the state it then writes. Moving
    a lead's due time *later* (every activity re-arms its inactivity timer) keeps the
    earlier wake-up, which then finds nothing due; only moving it *earlier* adds an entry.
    So the heap holds about one entry per lead with timers, however many events arrive.
    """

    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[float, bytes]]] = {}
        self._wake_at: dict[int, dict[bytes, float]] = {}

    def is_built(self, partition: int) -> bool:
        """Whether the partition has an index (complete or being built)."""
        return partition in self._heaps

    def start(self, partition: int) -> None:
        """An empty index for the partition, filled by `set` (a build in slices, and every
        state written meanwhile: the earlier wake-up of the two is kept)."""
        self._heaps.setdefault(partition, [])
        self._wake_at.setdefault(partition, {})

    def build(self, partition: int, entries: Iterable[tuple[bytes, float]]) -> None:
        wake_at = dict(entries)
        heap = [(at, key) for key, at in wake_at.items()]
        heapq.heapify(heap)
        self._heaps[partition] = heap
        self._wake_at[partition] = wake_at

    def set(self, partition: int, key: bytes, due_at: float | None) -> None:
        """Make sure the lead is looked at again by `due_at` (None: nothing pending)."""
        if due_at is None or partition not in self._heaps:
            return  # an unbuilt partition is built from the table, which has this state
        wake_at = self._wake_at[partition]
        current = wake_at.get(key)
        if current is not None and current <= due_at:
            return
        wake_at[key] = due_at
        heapq.heappush(self._heaps[partition], (due_at, key))

    def pop_due(self, partition: int, now: float) -> list[bytes]:
        """Keys of the partition's leads to look at by `now`, each once."""
        heap = self._heaps.get(partition)
        if not heap:
            return []
        wake_at = self._wake_at[partition]
        keys = []
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            if wake_at.get(key) == at:
                del wake_at[key]
                keys.append(key)
        return keys

    def pending(self) -> int:
        return sum(len(wake_at) for wake_at in self._wake_at.values())

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._heaps.pop(partition, None)
            self._wake_at.pop(partition, None)
