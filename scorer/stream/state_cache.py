"""States changed in memory and written to their table once per checkpoint.

The tables hold each key's changelog record as bytes (see codecs.py): a tracked lead
costs about its record's size, and changelog recovery stores the bytes without
decoding them. A `StateCache` in front of a table keeps the states the agents change
since the last checkpoint, and the decoded states of the most recently used keys (up to
SCORER_STATE_CACHE_KEYS per table; decoding a big lead record costs more than scoring
its event, so a hot key is decoded once, not at every touch); `Checkpointer.checkpoint`
writes each changed key once (one changelog record per key per checkpoint, however
many batches changed it) and only then acknowledges the events those states cover, so
the offsets Faust commits never run ahead of the changelog (its commit flushes the
producer first). A crash before a checkpoint replays the events since the last commit
against the last written states: the event-id window makes the replay reach the same
state, and the alert ledger keeps alerts from going out twice.

The models: Kafka Streams' record cache (flushed on commit) and the Quix Streams
checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faust.types import EventT

from scorer.stream.codecs import StateCodec
from scorer.stream.partitioning import owner_partition
from scorer.stream.workarounds.current_event import as_current_event
from scorer.stream.workarounds.deferred_acks import hold_ack, release_ack

log = logging.getLogger(__name__)

S = TypeVar("S")


@dataclass(slots=True)
class StateCache(Generic[S]):
    """A table of encoded states with the changes since the last checkpoint in front.

    Reads see the newest state: a change not yet written, else the table's record,
    decoded and kept while the key is among the `decoded_max` most recently used.
    `put` and `delete` name the event a change belongs to: the table write at the
    checkpoint is made as that event (a store may shard by the event's partition;
    RocksDB keeps a database per partition).
    """

    table: Any  # a Faust table of bytes
    codec: StateCodec[S]
    partitions: int
    decoded_max: int = 10_000
    _changed: dict[bytes, tuple[S | None, EventT[Any]]] = field(default_factory=dict)
    # Equal to the table's records (written or read): valid until the table changes
    # under the cache, i.e. until a rebalance (see `forget_decoded`).
    _decoded: OrderedDict[bytes, S] = field(default_factory=OrderedDict)

    def get(self, key: bytes) -> S | None:
        changed = self._changed.get(key)
        if changed is not None:
            return changed[0]
        decoded = self._decoded
        state = decoded.get(key)
        if state is not None:
            decoded.move_to_end(key)
            return state
        raw = self.table.get(key)
        if raw is None:
            return None  # a miss is not kept: recovery may bring the key later
        state = self.codec.decode(raw)
        self._keep(key, state)
        return state

    def _keep(self, key: bytes, state: S) -> None:
        decoded = self._decoded
        decoded[key] = state
        decoded.move_to_end(key)
        while len(decoded) > self.decoded_max:
            decoded.popitem(last=False)

    def forget_decoded(self) -> None:
        """Drop decoded copies: the table may change under them (a rebalance restores
        partitions from their changelogs). Changes not yet written stay."""
        self._decoded.clear()

    def __getitem__(self, key: bytes) -> S:
        state = self.get(key)
        if state is None:
            raise KeyError(key)
        return state

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    def put(self, key: bytes, state: S, event: EventT[Any]) -> None:
        self._changed[key] = (state, event)

    def delete(self, key: bytes, event: EventT[Any]) -> None:
        self._changed[key] = (None, event)
        self._decoded.pop(key, None)

    def is_changed(self, key: bytes) -> bool:
        """Whether `key` changed since the last checkpoint (not written yet)."""
        return key in self._changed

    @property
    def changed(self) -> int:
        """Keys changed since the last checkpoint."""
        return len(self._changed)

    def keys(self) -> list[bytes]:
        """Every key with a state (written or changed since)."""
        keys = set(self.table.keys())
        for key, (state, _) in self._changed.items():
            if state is None:
                keys.discard(key)
            else:
                keys.add(key)
        return list(keys)

    def items(self, partitions: Collection[int] | None = None) -> Iterator[tuple[bytes, S]]:
        """(key, state) of every key, or of the keys owned by `partitions`: decoded
        without being kept, and the owner is checked before decoding."""
        for key in self.keys():
            if partitions is not None and owner_partition(key, self.partitions) not in partitions:
                continue
            changed = self._changed.get(key)
            state = changed[0] if changed is not None else self._decoded.get(key)
            if state is None:
                raw = self.table.get(key)
                state = self.codec.decode(raw) if raw is not None else None
            if state is not None:
                yield key, state

    def __len__(self) -> int:
        size = len(self.table)
        for key, (state, _) in self._changed.items():
            written = key in self.table
            size += (state is not None and not written) - (state is None and written)
        return size

    def write_changes(self) -> int:
        """Write every changed key to the table once (its state stays decoded). The
        number of keys written."""
        changed, self._changed = self._changed, {}
        encode = self.codec.encode
        for key, (state, event) in changed.items():
            with as_current_event(event):
                if state is None:
                    if key in self.table:
                        del self.table[key]
                else:
                    self.table[key] = encode(state)
            if state is not None:
                self._keep(key, state)
        return len(changed)


@dataclass(slots=True)
class Checkpointer:
    """Writes the caches' changes, then acknowledges the events they cover.

    An agent holds its batch's events (`hold`) before handling them, so Faust does not
    acknowledge them when the batch ends, and hands them back (`finished`) once the
    batch's states are in the caches: only states of finished batches are written, so
    an alert is always acknowledged by the broker before the state recording it is.
    `checkpoint` runs when one is due (`interval_s` since the last), when Faust takes
    partitions away (it waits for every started event to be acknowledged before it
    gives them up) and when an agent stops.
    """

    caches: Sequence[StateCache[Any]]
    interval_s: float
    clock: Callable[[], float] = time.monotonic
    on_checkpoint: Callable[[int, int, float], None] = lambda keys, events, seconds: None
    _finished: list[EventT[Any]] = field(default_factory=list)
    _last: float | None = None  # the first checkpoint: an interval after the first look

    def hold(self, events: Iterable[EventT[Any]]) -> None:
        for event in events:
            hold_ack(event)

    def finished(self, events: Iterable[EventT[Any]]) -> None:
        self._finished.extend(events)

    def due(self) -> bool:
        now = self.clock()
        if self._last is None:
            self._last = now
        return now - self._last >= self.interval_s

    @property
    def pending(self) -> bool:
        """Whether a checkpoint would write or acknowledge anything."""
        return bool(self._finished) or any(cache.changed for cache in self.caches)

    def forget_decoded(self) -> None:
        for cache in self.caches:
            cache.forget_decoded()

    def checkpoint(self) -> None:
        """Write every cache's changes, then acknowledge the finished events (no await in
        between: nothing can change a cache meanwhile)."""
        started = self.clock()
        self._last = started
        keys = sum(cache.write_changes() for cache in self.caches)
        finished, self._finished = self._finished, []
        for event in finished:
            release_ack(event)
        if keys or finished:
            self.on_checkpoint(keys, len(finished), self.clock() - started)
