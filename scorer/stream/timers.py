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
  built from the table on a partition's first tick after it was assigned, and updated with
  every state the agent writes. A timer overdue after downtime fires on the first tick.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class DueIndex:
    """Per partition: a min-heap of (due time, lead key), possibly with stale entries.

    An entry goes stale when a lead's next due time moves (fired, cancelled, re-armed);
    rather than deleting from the middle of a heap, the latest due time per key is kept
    aside and popped entries that disagree with it are skipped.
    """

    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[float, bytes]]] = {}
        self._due: dict[int, dict[bytes, float]] = {}

    def is_built(self, partition: int) -> bool:
        return partition in self._heaps

    def build(self, partition: int, entries: Iterable[tuple[bytes, float]]) -> None:
        due = dict(entries)
        heap = [(at, key) for key, at in due.items()]
        heapq.heapify(heap)
        self._heaps[partition] = heap
        self._due[partition] = due

    def set(self, partition: int, key: bytes, due_at: float | None) -> None:
        """Record a lead's next due time (None: nothing pending) on a built partition."""
        if partition not in self._heaps:
            return  # built from the table, which holds this write, on the first tick
        due = self._due[partition]
        if due_at is None:
            due.pop(key, None)
            return
        if due.get(key) == due_at:
            return
        due[key] = due_at
        heapq.heappush(self._heaps[partition], (due_at, key))

    def pop_due(self, partition: int, now: float) -> list[bytes]:
        """Keys of the partition's leads with a timer due at `now`, each once."""
        heap = self._heaps.get(partition)
        if not heap:
            return []
        due = self._due[partition]
        keys = []
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            if due.get(key) == at:
                del due[key]
                keys.append(key)
        return keys

    def pending(self) -> int:
        return sum(len(due) for due in self._due.values())

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._heaps.pop(partition, None)
            self._due.pop(partition, None)
