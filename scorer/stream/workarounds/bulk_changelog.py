"""A checkpoint's table writes in bulk: the changelog records produced in batches per
partition, and only once the broker acknowledged them the store written, with the
persisted offsets, once per partition.

Faust writes a table key through `Table.__setitem__`: `on_key_set` → `send_changelog` →
`Topic.send_soon`, i.e. a `FutureMessage` per key through Faust's producer buffer and
aiokafka's `send` (a future and a callback per record), `Collection._on_changelog_sent`
per acknowledged record (on RocksDB a `put` of the persisted offset per record), and the
store's `_set` per key (a RocksDB `put` in the database of the current event's partition,
which the scorer had to set through a context variable with no public setter, PR #522).
At 1,000 events/s a checkpoint of ~1,000 changed keys spent 140-180 ms of each second
there (docs/checkpoint.md).

Faust has no bulk write for tables (no upstream issue asks for one; related:
faust-streaming #51, standby writes made one by one instead of a `WriteBatch`, and #497,
table writes outside an event's own step). `BulkChangelogWriter` does what that path
does, per checkpoint instead of per key:

- the changelog: aiokafka's public batch API (`create_batch`, `send_batch`) on the
  aiokafka producer inside Faust's (`Producer._ensure_producer`), batches as large as
  the producer's `max_batch_size` (one record on the embedded broker), closed at once
  (no linger), in order per partition. The same key and value bytes as Faust's path.
- the store, **after the acknowledgement** (Faust writes it before the send): the
  acknowledged batches of a loop turn (a produce response's acks come together) in one
  RocksDB `WriteBatch` per partition database (Faust's own `apply_changelog_batch` does
  the same for recovery) holding the records and the persisted offset (the last
  acknowledged record's, what a restart with its RocksDB data dir re-reads from, as
  `_on_changelog_sent` sets per record), so a kill -9 can never leave the store holding
  a state the changelog lacks (a restarted worker would keep it, and the replayed
  events' ids in its dedup window would stop them from writing it again: a later
  failover would then lose their effects). The key's partition goes into the store's
  key index as `_set` does; the memory store's dict is updated in order. Every key goes
  to its owner partition's database (murmur2, the changelog partition the table's
  `use_partitioner` sends it to and recovery restores it to). Until then the state
  cache's reads see the state (state_cache.py). Standby replicas read the changelog as
  before; no exactly-once (the scorer does not use it).
- not kept: Faust's per-key sensors (`on_table_set`/`on_table_del`; the scorer reads
  no table statistics from Faust's monitor) and key TTLs (windowed tables only).

`flush` awaits every batch handed over so far (a concurrent flush's too) and stores
them: the checkpoint acknowledges its events only after it, so the offsets Faust
commits never run ahead of the changelog. A batch that fails (after aiokafka's own
retries) fails every later flush of the writer, and neither it nor any batch
acknowledged after it reaches the store, so no later checkpoint acknowledges events
whose states were lost; the worker must restart and replay them.

Checked on faust-streaming 0.15.3, rocksdict 0.3.29, aiokafka 0.14.0. The canaries
(tests/unit/stream/workarounds/test_bulk_changelog.py) fail when Faust's table write
path, the stores' internals used here or aiokafka's batch API change.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from functools import partial
from typing import Any

from faust.types import TP

from scorer.stream.partitioning import owner_partition
from scorer.stream.table_writer import Record

log = logging.getLogger(__name__)


class BulkChangelogWriter:
    """Writes a Faust table's changed keys in bulk (see the module docstring).

    `write` stages records; `send` hands the staged records to the producer, in batches
    per changelog partition, in the order they were written; a batch's records reach the
    store only once the broker acknowledged it (with the persisted offset, in one write
    per partition database); `flush` sends and then awaits every batch handed over so
    far, and returns once their records are in the store.
    """

    def __init__(self, table: Any, partitions: int) -> None:
        app = table.app
        if app.conf.processing_guarantee.value != "at_least_once":
            raise ValueError("bulk changelog writes support processing_guarantee=at_least_once")
        if app.conf.producer_threaded:
            raise ValueError("bulk changelog writes do not support producer_threaded")
        self.table = table
        self.partitions = partitions
        self._staged: defaultdict[int, list[Record]] = defaultdict(list)
        self._unacked: set[asyncio.Future[Any]] = set()
        # Acknowledged batches not in the store yet: (partition, last offset, records).
        self._acked: list[tuple[int, int, list[Record]]] = []
        self._storing: asyncio.Handle | None = None
        self._persisted: dict[int, int] = {}
        self._sending: asyncio.Lock | None = None
        self._failed: BaseException | None = None

    def write(self, records: Iterable[Record]) -> None:
        """Stage `records` for the changelog (the store gets them once acknowledged)."""
        staged, partitions = self._staged, self.partitions
        for record in records:
            staged[owner_partition(record[0], partitions)].append(record)

    # -- the changelog -----------------------------------------------------------------

    async def send(self) -> None:
        """Hand every staged record to the producer (after those handed over before)."""
        if self._sending is None:
            self._sending = asyncio.Lock()
        async with self._sending:  # a later send appends after this one's batches
            if not self._staged:
                return
            staged, self._staged = self._staged, defaultdict(list)
            producer = self.table.app.producer._ensure_producer()
            topic = self.table.changelog_topic.get_topic_name()
            await asyncio.gather(
                *(self._send_partition(producer, topic, p, r) for p, r in staged.items() if r)
            )

    async def flush(self) -> None:
        """Send what is staged, then wait until the broker acknowledged every record
        handed over so far and the store holds them. Raises if any batch of this writer
        ever failed (its records and every later batch's stay out of the store)."""
        await self.send()
        pending = list(self._unacked)  # a concurrent flush's batches too
        if pending:
            await asyncio.wait(pending)  # their `_on_acked` callbacks ran (added first)
        self.store_acknowledged()
        if self._failed is not None:
            raise RuntimeError(
                f"a changelog batch of table {self.table.name!r} was not delivered "
                f"({type(self._failed).__name__}): its events cannot be acknowledged; "
                "restart the worker to replay them"
            ) from self._failed

    @property
    def staged(self) -> int:
        """Records written and not handed to the producer yet."""
        return sum(len(records) for records in self._staged.values())

    async def _send_partition(
        self, producer: Any, topic: str, partition: int, records: list[Record]
    ) -> None:
        batch = producer.create_batch()
        in_batch: list[Record] = []
        for record in records:
            key, value = record
            if batch.append(key=key, value=value, timestamp=None) is None:
                await self._submit(producer, batch, topic, partition, in_batch)
                batch, in_batch = producer.create_batch(), []
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise RuntimeError("an empty producer batch refused a changelog record")
            in_batch.append(record)
        await self._submit(producer, batch, topic, partition, in_batch)

    async def _submit(
        self, producer: Any, batch: Any, topic: str, partition: int, records: list[Record]
    ) -> None:
        batch.close()  # no linger: nothing else goes into it
        try:
            delivered = await producer.send_batch(batch, topic, partition=partition)
        except BaseException as exc:
            # The batch's records are lost to the changelog: no later flush may
            # acknowledge events after them either (as for a batch the broker failed).
            self._failed = self._failed or exc
            raise
        delivered.add_done_callback(partial(self._on_acked, partition, records))
        self._unacked.add(delivered)

    # -- the store ---------------------------------------------------------------------

    def _on_acked(self, partition: int, records: list[Record], delivered: Any) -> None:
        """Queue an acknowledged batch for the store (the acks of one produce response
        arrive together: they are stored in one write per partition database)."""
        self._unacked.discard(delivered)
        if delivered.cancelled():
            self._failed = self._failed or asyncio.CancelledError()
            return
        failed = delivered.exception()
        if failed is not None:
            if self._failed is None:
                log.error(
                    "changelog batch of table %s partition %d failed: %s",
                    self.table.name, partition, type(failed).__name__,
                )  # fmt: skip
            self._failed = self._failed or failed
            return
        if self._failed is not None:
            return  # the store stays at what the changelog held before the failure
        self._acked.append((partition, delivered.result().offset + len(records) - 1, records))
        if self._storing is None:
            self._storing = asyncio.get_running_loop().call_soon(self.store_acknowledged)

    def store_acknowledged(self) -> None:
        """Put the acknowledged records into the store, each partition's with its
        persisted offset (the last acknowledged record's), as `_on_changelog_sent` does
        per record: in one RocksDB `WriteBatch`, so the store never holds a record the
        changelog lacks, nor an offset ahead of the records."""
        if self._storing is not None:
            self._storing.cancel()
            self._storing = None
        acked, self._acked = self._acked, []
        if not acked:
            return
        by_partition: defaultdict[int, list[Record]] = defaultdict(list)
        offsets: dict[int, int] = {}
        persisted = self._persisted
        for partition, last, records in acked:
            by_partition[partition].extend(records)
            if last > max(offsets.get(partition, -1), persisted.get(partition, -1)):
                offsets[partition] = last
        persisted.update(offsets)
        store = self.table.data
        if hasattr(store, "_db_for_partition"):
            _write_rocksdb(store, by_partition, offsets)
        else:
            _write_memory(store, by_partition)
            topic = self.table.changelog_topic.get_topic_name()
            for partition, offset in offsets.items():
                store.set_persisted_offset(TP(topic, partition), offset)


def _write_rocksdb(
    store: Any, by_partition: dict[int, list[Record]], offsets: dict[int, int]
) -> None:
    """One WriteBatch per partition database, its persisted offset in it; deletes
    through Faust's own `_del` too (it also finds a key kept in another partition's
    database, and deletes are rare)."""
    import rocksdict

    if not store.use_rocksdict:  # python-rocksdb's batches: not supported (not installed)
        raise RuntimeError("bulk changelog writes need the rocksdict RocksDB driver")
    key_index = store._key_index
    for partition, records in by_partition.items():
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in records:
            if value is None:
                store._del(key)
                batch.delete(key)
                key_index.pop(key, None)
            else:
                batch.put(key, value)
                key_index[key] = partition
        if partition in offsets:
            batch.put(store.offset_key, str(offsets[partition]).encode())
        store._db_for_partition(partition).write(batch)


def _write_memory(store: Any, by_partition: dict[int, list[Record]]) -> None:
    """The memory store's dict, records in the order acknowledged."""
    data = store.data
    for records in by_partition.values():
        for key, value in records:
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
