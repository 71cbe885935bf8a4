"""States changed in memory and written to their table once per checkpoint.

The tables hold each key's changelog record as bytes (see codecs.py): a tracked lead
costs about its record's size, and changelog recovery stores the bytes without decoding
them. A `StateCache` in front of a table keeps the states the agents change since the
last checkpoint, and the decoded states of the most recently used keys (up to
SCORER_STATE_CACHE_KEYS per table; decoding a big lead record costs more than scoring
its event, so a hot key is decoded once, not at every touch); a `Checkpointer`
(checkpointer.py) checkpoint (in 5 ms slices between the agents' batches, or at once
when Faust waits for it) writes each changed key once (one changelog record per key per
checkpoint, however many batches changed it), in bulk (a `TableWriter`: for Faust's
tables the changelog records produced in batches and the store written once per
partition, workarounds/bulk_changelog.py), waits until the broker acknowledged those
records, and only then acknowledges the events those states cover, so the offsets Faust
commits never run ahead of the changelog. A state reaches the table's store only after
the broker acknowledged its changelog record (until then reads see it in the cache), so
a worker killed and restarted with its RocksDB data dir never keeps a state the
changelog lacks. A crash before a checkpoint replays the events since the last commit
against the last written states: the event-id window makes the replay reach the same
state, and the alert ledger keeps alerts from going out twice.

The models: Kafka Streams' record cache (flushed on commit) and the Quix Streams
checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faust.types import EventT

from scorer.stream.codecs import StateCodec
from scorer.stream.partitioning import owner_partition
from scorer.stream.table_writer import MappingWriter, Record, TableWriter
from scorer.stream.workarounds.table_size import partition_keys, table_size

log = logging.getLogger(__name__)

S = TypeVar("S")


@dataclass(slots=True)
class StateCache(Generic[S]):
    """A table of encoded states with the changes since the last checkpoint in front.

    Reads see the newest state: a change not yet written, else one written whose
    changelog record the broker has not acknowledged yet (the writer puts it into the
    table after the acknowledgement), else the table's record, decoded and kept while
    the key is among the `decoded_max` most recently used. `put` and `delete` name the
    event a change belongs to. Changes reach the changelog and then the table through
    `writer` (by default a key at a time into `table`).
    """

    table: Any  # a Faust table of bytes
    codec: StateCodec[S]
    partitions: int
    decoded_max: int = 10_000
    # Whether the table's keys can be iterated while it is written (RocksDB: an
    # iterator reads a snapshot; the memory store's dict cannot): see partition_records.
    lazy_keys: bool = False
    writer: TableWriter | None = None
    _writer: TableWriter = field(init=False)
    _changed: dict[bytes, tuple[S | None, EventT[Any]]] = field(default_factory=dict)
    # Changes a checkpoint in progress took and has not written yet (see `take_changes`):
    # older than `_changed`, newer than the table.
    _writing: dict[bytes, tuple[S | None, EventT[Any]]] = field(default_factory=dict)
    # Taken changes handed to the writer, with the write's number: the table gets them
    # once the broker acknowledged their records (see `changes_acknowledged`); older
    # than `_writing`, newer than the table.
    _sent: dict[bytes, tuple[S | None, int]] = field(default_factory=dict)
    _writes: int = 0
    # Equal to the table's records (read, or written: in `_sent` until the table has
    # them): valid until the table changes under the cache, i.e. until a rebalance
    # (see `forget_decoded`).
    _decoded: OrderedDict[bytes, S] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self._writer = self.writer if self.writer is not None else MappingWriter(self.table)

    def get(self, key: bytes) -> S | None:
        changed = self._changed.get(key)
        if changed is not None:
            return changed[0]
        if self._writing:
            changed = self._writing.get(key)
            if changed is not None:
                return changed[0]
        if self._sent:
            sent = self._sent.get(key)
            if sent is not None:
                return sent[0]
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
        """Whether `key` changed since the last checkpoint (not handed to the writer)."""
        return key in self._changed or key in self._writing

    @property
    def changed(self) -> int:
        """Changes not written yet (since the last checkpoint, or taken by one in progress)."""
        return len(self._changed) + len(self._writing)

    def _unwritten(self) -> dict[bytes, tuple[S | None, object]]:
        """Every change not in the table yet, the newest per key."""
        if not (self._writing or self._sent):
            return self._changed  # type: ignore[return-value]
        return {**self._sent, **self._writing, **self._changed}

    def keys(self) -> list[bytes]:
        """Every key with a state (written or changed since)."""
        keys = set(self.table.keys())
        for key, (state, _) in self._unwritten().items():
            if state is None:
                keys.discard(key)
            else:
                keys.add(key)
        return list(keys)

    def items(self, partitions: Collection[int] | None = None) -> Iterator[tuple[bytes, S]]:
        """(key, state) of every key, or of the keys owned by `partitions`: decoded
        without being kept, and the owner is checked before decoding."""
        unwritten = self._unwritten()
        for key in self.keys():
            if partitions is not None and owner_partition(key, self.partitions) not in partitions:
                continue
            changed = unwritten.get(key)
            state = changed[0] if changed is not None else self._decoded.get(key)
            if state is None:
                raw = self.table.get(key)
                state = self.codec.decode(raw) if raw is not None else None
            if state is not None:
                yield key, state

    def partition_records(self, partition: int) -> Iterator[tuple[bytes, bytes | None, S | None]]:
        """(key, table value, None) or (key, None, newest state) of every key the
        partition owns, each read when it is yielded: the newest state when the cache
        holds one (changed, or kept decoded), else the table's value, not decoded. The
        keys changed and not written yet come first, then the table's. Meant to be read
        a slice at a time between the agents' batches; a key first written meanwhile
        may be missed (whoever writes it sees it)."""
        owner = self.partitions
        mine = [k for k in self._unwritten() if owner_partition(k, owner) == partition]
        for key in mine:
            newest = self._newest(key)
            if newest is not None:
                yield key, *newest
        seen = set(mine)
        own = partition_keys(self.table, partition) if self.lazy_keys else None
        if own is not None:
            keys: Iterable[bytes] = own  # the partition's RocksDB database: its keys only
        elif self.lazy_keys:
            keys = self.table.keys()  # RocksDB iterates a snapshot, whatever is written
        else:
            keys = list(self.table.keys())  # a dict must not change size under it
        for key in keys:
            if key in seen or (own is None and owner_partition(key, owner) != partition):
                continue
            newest = self._newest(key)
            if newest is not None:
                yield key, *newest

    def _newest(self, key: bytes) -> tuple[bytes | None, S | None] | None:
        """(None, state) when the cache holds the key's newest state, (value, None) for
        the table's value, None when the key has no state."""
        changed: tuple[S | None, object] | None = self._changed.get(key)
        if changed is None and self._writing:
            changed = self._writing.get(key)
        if changed is None and self._sent:
            changed = self._sent.get(key)
        if changed is not None:
            return None if changed[0] is None else (None, changed[0])
        state = self._decoded.get(key)
        if state is not None:
            return None, state
        raw = self.table.get(key)
        return None if raw is None else (raw, None)

    def __len__(self) -> int:
        return self._with_unwritten(len(self.table))

    def tracked(self) -> tuple[int, bool]:
        """(keys with a state, whether that is an estimate): like `len`, but cheap on a
        RocksDB table, whose part is RocksDB's estimate (workarounds/table_size.py)."""
        size, estimated = table_size(self.table)
        return self._with_unwritten(size), estimated

    def _with_unwritten(self, size: int) -> int:
        """`size` keys in the table, with the changes not written yet counted in."""
        for key, (state, _) in self._unwritten().items():
            written = key in self.table
            size += (state is not None and not written) - (state is None and written)
        return size

    def write_changes(self) -> int:
        """Write every changed key once (its state stays decoded), what a checkpoint in
        progress took first. The number of keys written. Their changelog records go out
        at the next `hand_over_changes` or `changes_acknowledged`, and the table gets
        them once the broker acknowledged them."""
        written = self.write_taken()
        self.take_changes()
        return written + self.write_taken()

    async def hand_over_changes(self) -> int:
        """`write_changes`, and hand their changelog records to the producer (not
        awaiting the broker's acknowledgement)."""
        written = self.write_changes()
        await self._writer.send()
        return written

    async def changes_acknowledged(self) -> None:
        """Wait until the changelog records of every write so far are acknowledged
        (and so in the table): reads of those keys go to the table again."""
        writes = self._writes
        await self._writer.flush()
        sent = self._sent
        if self._writes == writes:
            sent.clear()
        else:  # written meanwhile (a checkpoint in slices, or another's writes)
            for key in [key for key, (_, write) in sent.items() if write <= writes]:
                del sent[key]

    def take_changes(self) -> int:
        """Take the changes since the last checkpoint for `write_taken` to write (after
        what an earlier take left: a key's records reach the changelog in order). Reads
        still see them; changes from now on wait for the next take. How many taken."""
        self.write_taken()
        self._writing, self._changed = self._changed, {}
        return len(self._writing)

    def write_taken(
        self, until: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> int:
        """Write taken changes, oldest first, all of them or until `clock()` passes
        `until` (at least one): encoded and handed to the writer, and read from
        `_sent` until the writer has put them into the table. The number written."""
        writing = self._writing
        if not writing:
            return 0
        encode = self.codec.encode
        sent = self._sent
        self._writes += 1
        write = self._writes
        records: list[Record] = []
        written = 0
        while writing:
            key = next(iter(writing))
            state, _ = writing.pop(key)
            if state is None:
                before = sent.get(key)
                # A state still in flight lands in the table later: delete after it.
                if key in self.table if before is None else before[0] is not None:
                    records.append((key, None))
                    sent[key] = (None, write)
                # An older taken state of the key may have been kept meanwhile.
                self._decoded.pop(key, None)
            else:
                records.append((key, encode(state)))
                sent[key] = (state, write)
                self._keep(key, state)
            written += 1
            if until is not None and clock() >= until:
                break
        if records:
            self._writer.write(records)
        return written

    @property
    def taken(self) -> int:
        """Taken changes not written yet."""
        return len(self._writing)
