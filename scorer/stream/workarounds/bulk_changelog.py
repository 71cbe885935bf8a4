"""A checkpoint's table writes in bulk: the store written once per partition, the
changelog records produced in batches per partition, the persisted offsets from the
batches' acknowledgements.

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

- the store: one RocksDB `WriteBatch` per partition database (Faust's own
  `apply_changelog_batch` does the same for recovery), recording the key's partition in
  the store's key index as `_set` does; the memory store's dict updated in one call.
  Every key goes to its owner partition's database (murmur2, the changelog partition
  the table's `use_partitioner` sends it to and recovery restores it to).
- the changelog: aiokafka's public batch API (`create_batch`, `send_batch`) on the
  aiokafka producer inside Faust's (`Producer._ensure_producer`), batches as large as
  the producer's `max_batch_size` (one record on the embedded broker), closed at once
  (no linger), in order per partition. The same key and value bytes as Faust's path.
- the persisted offset (what a restart with its RocksDB data dir re-reads from): set
  from each acknowledged batch, its last record's offset, as `_on_changelog_sent` does
  per record (only without exactly-once, which the scorer does not use). Standby
  replicas read the changelog as before.
- not kept: Faust's per-key sensors (`on_table_set`/`on_table_del`; the scorer reads
  no table statistics from Faust's monitor) and key TTLs (windowed tables only).

`flush` awaits every batch handed over so far: the checkpoint acknowledges its events
only after it, so the offsets Faust commits never run ahead of the changelog. A batch
that fails (after aiokafka's own retries) fails every later flush of the writer, so no
later checkpoint acknowledges events whose states were lost; the worker must restart
and replay them.

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

    `write` puts records into the store at once and stages them; `send` hands the
    staged records to the producer, in batches per changelog partition, in the order
    they were written; `flush` sends and then awaits every batch handed over so far.
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
        self._unacked: list[asyncio.Future[Any]] = []
        self._persisted: dict[int, int] = {}
        self._sending: asyncio.Lock | None = None
        self._failed: BaseException | None = None

    # -- the store ---------------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> None:
        """Put `records` into the table's store and stage them for the changelog."""
        by_partition: defaultdict[int, list[Record]] = defaultdict(list)
        partitions = self.partitions
        for record in records:
            by_partition[owner_partition(record[0], partitions)].append(record)
        store = self.table.data
        if hasattr(store, "_db_for_partition"):
            _write_rocksdb(store, by_partition)
        else:
            _write_memory(store, by_partition)
        for partition, written in by_partition.items():
            self._staged[partition].extend(written)

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
        handed over so far. Raises if any batch of this writer ever failed."""
        await self.send()
        pending, self._unacked = self._unacked, []
        if pending:
            await asyncio.wait(pending)
        if self._failed is not None:
            raise RuntimeError(
                f"a changelog batch of table {self.table.name!r} was not delivered "
                f"({type(self._failed).__name__}): its events cannot be acknowledged; "
                "restart the worker to replay them"
            ) from self._failed

    @property
    def staged(self) -> int:
        """Records written to the store and not handed to the producer yet."""
        return sum(len(records) for records in self._staged.values())

    async def _send_partition(
        self, producer: Any, topic: str, partition: int, records: list[Record]
    ) -> None:
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:
                await self._submit(producer, batch, topic, partition)
                batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise RuntimeError("an empty producer batch refused a changelog record")
        await self._submit(producer, batch, topic, partition)

    async def _submit(self, producer: Any, batch: Any, topic: str, partition: int) -> None:
        batch.close()  # no linger: nothing else goes into it
        delivered = await producer.send_batch(batch, topic, partition=partition)
        delivered.add_done_callback(partial(self._acked, topic, partition, batch.record_count()))
        self._unacked.append(delivered)

    def _acked(self, topic: str, partition: int, records: int, delivered: Any) -> None:
        """Persist the batch's last offset, as `_on_changelog_sent` does per record."""
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
        last = delivered.result().offset + records - 1
        if last > self._persisted.get(partition, -1):
            self._persisted[partition] = last
            self.table.data.set_persisted_offset(TP(topic, partition), last)


def _write_rocksdb(store: Any, by_partition: dict[int, list[Record]]) -> None:
    """One WriteBatch per partition database; deletes through Faust's own `_del` (it
    also finds a key kept in another partition's database, and deletes are rare)."""
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
        store._db_for_partition(partition).write(batch)


def _write_memory(store: Any, by_partition: dict[int, list[Record]]) -> None:
    """The memory store's dict (a key appears once per write: the cache's changes)."""
    data = store.data
    for records in by_partition.values():
        data.update((key, value) for key, value in records if value is not None)
        for key, value in records:
            if value is None:
                data.pop(key, None)
