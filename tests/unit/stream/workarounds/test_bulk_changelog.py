"""A checkpoint's table writes in bulk (workarounds/bulk_changelog.py): the store written
per partition, the changelog records in order in batches per partition, the persisted
offset from the acknowledgements; and the canaries for what it relies on in Faust and
aiokafka. The real broker's side: tests/integration/test_bulk_checkpoint.py."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiokafka
import pytest
import rocksdict
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.stores import memory, rocksdb
from faust.tables.base import Collection
from faust.tables.table import Table
from faust.transport.drivers.aiokafka import Producer
from faust.types import TP

from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.checkpointer import Checkpointer
from scorer.stream.codecs import StateCodec
from scorer.stream.partitioning import owner_partition
from scorer.stream.state_cache import StateCache
from scorer.stream.workarounds.bulk_changelog import BulkChangelogWriter

PARTITIONS = 4
KEYS = [f"lead-{n}".encode() for n in range(40)]


def faust_table(tmp_path: Path, store: str) -> Any:
    """The scorer's lead table, its app finalized but not started (no broker)."""
    settings = load_settings(
        {}, partitions=PARTITIONS, data_dir=tmp_path, topic_prefix="unit.", store=store
    )
    app: Any = create_app(settings, load_rules(settings.rules_file)).app
    app.finalize()
    return app.tables["lead-state"]


@pytest.fixture(params=["memory://", "rocksdb://"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    table = faust_table(tmp_path, request.param)
    yield table
    for db in getattr(table.data, "_dbs", {}).values():
        db.close()


@dataclass
class Broker:
    """Stands for aiokafka's producer: real batches, acknowledged when told to."""

    max_batch_size: int
    batches: list[tuple[int, list[tuple[bytes, bytes | None]]]] = field(default_factory=list)
    acks: list[tuple[asyncio.Future[Any], int, int]] = field(default_factory=list)
    end: dict[int, int] = field(default_factory=dict)
    client: Any = None

    def __post_init__(self) -> None:
        self.client = aiokafka.AIOKafkaProducer(
            bootstrap_servers="127.0.0.1:1", max_batch_size=self.max_batch_size
        )

    def create_batch(self) -> Any:
        return self.client.create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        assert batch.closed(), "a batch is closed before it is handed over (no linger)"
        records = _records_of(batch)
        self.batches.append((partition, records))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.append((future, partition, len(records)))
        return future

    async def handed_over(self) -> None:
        """Until the writer has handed batches over (a deadline, not a fixed sleep)."""
        for _ in range(1000):
            if self.acks:
                return
            await asyncio.sleep(0.001)
        raise AssertionError("no batch was handed over")

    def acknowledge(self, failing: bool = False) -> None:
        for future, partition, count in self.acks:
            if failing:
                future.set_exception(aiokafka.errors.KafkaTimeoutError())
                continue
            base = self.end.get(partition, 0)
            self.end[partition] = base + count
            tp = TopicPartition("changelog", partition)
            future.set_result(RecordMetadata("changelog", partition, tp, base, -1, 0, None))
        self.acks.clear()


def _records_of(batch: Any) -> list[tuple[bytes, bytes | None]]:
    from aiokafka.record.default_records import DefaultRecordBatch

    return [(r.key, r.value) for r in DefaultRecordBatch(bytearray(batch._build()))]


def with_broker(table: Any, broker: Broker) -> BulkChangelogWriter:
    table.app.producer._producer = broker
    return BulkChangelogWriter(table, PARTITIONS)


def stored(table: Any) -> dict[bytes, bytes]:
    return {key: table.data[key] for key in KEYS if key in table.data}


async def test_the_changelog_gets_the_records_in_order_and_the_store_only_after_the_ack(
    table: Any,
) -> None:
    broker = Broker(max_batch_size=16384)
    writer = with_broker(table, broker)
    writer.write([(key, b"v1-" + key) for key in KEYS])
    writer.write([(KEYS[0], b"v2"), (KEYS[1], None)])
    assert writer.staged == len(KEYS) + 2
    assert broker.batches == []
    sending = asyncio.ensure_future(writer.flush())
    await broker.handed_over()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not sending.done(), "flush waits for the broker"
    assert stored(table) == {}, "the store holds nothing before the broker acknowledged it"
    broker.acknowledge()
    await sending
    expected = {key: b"v1-" + key for key in KEYS[2:]} | {KEYS[0]: b"v2"}
    assert stored(table) == expected
    sent: dict[int, list[tuple[bytes, bytes | None]]] = {}
    for partition, records in broker.batches:
        sent.setdefault(partition, []).extend(records)
    for partition, records in sent.items():
        assert all(owner_partition(key, PARTITIONS) == partition for key, _ in records)
    last = {key: value for records in sent.values() for key, value in records}
    assert last == {**{key: b"v1-" + key for key in KEYS}, KEYS[0]: b"v2", KEYS[1]: None}
    assert len(broker.batches) == len(sent), "one batch per partition per send here"


async def test_acknowledged_batches_reach_the_store_without_a_flush(table: Any) -> None:
    """An erasure or identity link hands records over without awaiting them: they are
    stored when acknowledged, a loop turn later, with their persisted offset."""
    broker = Broker(max_batch_size=16384)
    writer = with_broker(table, broker)
    writer.write([(key, b"v") for key in KEYS])
    await writer.send()
    assert stored(table) == {}
    broker.acknowledge()
    for _ in range(5):
        await asyncio.sleep(0)
    assert stored(table) == {key: b"v" for key in KEYS}
    if hasattr(table.data, "_dbs"):
        topic = table.changelog_topic.get_topic_name()
        assert [table.data.persisted_offset(TP(topic, p)) for p in range(PARTITIONS)] == [
            broker.end[p] - 1 for p in range(PARTITIONS)
        ]


async def test_a_failed_batch_puts_nothing_into_the_store_then_or_later(table: Any) -> None:
    broker = Broker(max_batch_size=16384)
    writer = with_broker(table, broker)
    writer.write([(KEYS[0], b"v")])
    sending = asyncio.ensure_future(writer.flush())
    await broker.handed_over()
    broker.acknowledge(failing=True)
    with pytest.raises(RuntimeError, match="restart the worker"):
        await sending
    writer.write([(KEYS[1], b"v")])
    sending = asyncio.ensure_future(writer.flush())
    await broker.handed_over()
    broker.acknowledge()
    with pytest.raises(RuntimeError, match="was not delivered"):
        await sending
    assert stored(table) == {}
    if hasattr(table.data, "_dbs"):
        topic = table.changelog_topic.get_topic_name()
        assert {table.data.persisted_offset(TP(topic, p)) for p in range(PARTITIONS)} == {None}


async def test_a_batch_the_producer_refuses_fails_this_flush_and_every_later_one(
    table: Any,
) -> None:
    """`send_batch` itself raising (the producer stopped, no metadata in time) loses the
    batch's records: later checkpoints must not acknowledge events after it either."""
    broker = Broker(max_batch_size=16384)
    writer = with_broker(table, broker)
    refuse = [True]
    send_batch = broker.send_batch

    async def refusing(batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        if refuse[0]:
            raise aiokafka.errors.KafkaTimeoutError()
        return await send_batch(batch, topic, partition=partition)

    broker.send_batch = refusing  # type: ignore[method-assign]
    writer.write([(KEYS[0], b"v")])
    with pytest.raises(aiokafka.errors.KafkaTimeoutError):
        await writer.flush()
    refuse[0] = False
    writer.write([(KEYS[1], b"v")])
    sending = asyncio.ensure_future(writer.flush())
    await broker.handed_over()
    broker.acknowledge()
    with pytest.raises(RuntimeError, match="was not delivered"):
        await sending
    assert stored(table) == {}


async def test_a_flush_waits_for_the_batches_of_a_flush_already_waiting(table: Any) -> None:
    """A rebalance's whole checkpoint during one in slices: its flush returns only once
    the earlier flush's records are acknowledged and stored too."""
    broker = Broker(max_batch_size=16384)
    writer = with_broker(table, broker)
    writer.write([(KEYS[0], b"first")])
    first = asyncio.ensure_future(writer.flush())
    await broker.handed_over()
    second = asyncio.ensure_future(writer.flush())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not second.done()
    broker.acknowledge()
    await asyncio.gather(first, second)
    assert stored(table) == {KEYS[0]: b"first"}


@dataclass
class Event:
    """A Faust event as far as the checkpoint acknowledges it."""

    acked: int = 0
    refcount: int = 1  # the stream's own reference, released by take_events
    message: Any = None
    app: Any = field(default_factory=lambda: SimpleNamespace(sensors=_Sensors()))

    def __post_init__(self) -> None:
        self.message = SimpleNamespace(incref=self._incref, tp=("t", 0), offset=0)

    def _incref(self) -> None:
        self.refcount += 1

    def ack(self) -> bool:
        self.refcount -= 1
        self.acked += self.refcount == 0
        return self.refcount == 0


class _Sensors:
    def on_message_out(self, *args: Any) -> None:
        return None


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "in-slices"])
@pytest.mark.parametrize("failing", [False, True], ids=["acked", "failing"])
async def test_a_checkpoint_s_states_reach_the_store_only_after_the_broker_s_ack(
    table: Any, whole: bool, failing: bool
) -> None:
    """A kill -9 while the records are in flight leaves the store at the last
    acknowledged states (what the changelog holds); reads see the newest meanwhile."""
    codec: StateCodec[int] = StateCodec(lambda n: {"n": n}, lambda record: record["n"])
    broker = Broker(max_batch_size=16384)
    cache = StateCache(
        table, codec, PARTITIONS, decoded_max=0, writer=with_broker(table, broker)
    )  # decoded_max=0: nothing answers reads but the cache's changes and the store
    checkpoints = Checkpointer((cache,), 1.0)
    topic = table.changelog_topic.get_topic_name()
    actives = {TP(topic, partition) for partition in range(PARTITIONS)}
    table.app.assignor.assigned_actives = lambda: actives  # RocksDB lists active ones
    old, kept = KEYS[:2], KEYS[2:4]
    event = Event()
    for key in old + kept:
        cache.put(key, 1, event)  # type: ignore[arg-type]
    acknowledged = asyncio.ensure_future(checkpoints.checkpoint_now())
    await broker.handed_over()
    broker.acknowledge()
    await acknowledged
    before = stored(table)
    assert before == {key: codec.encode(1) for key in old + kept}

    event = Event()
    checkpoints.hold([event])  # type: ignore[list-item]
    event.ack()  # take_events' own
    cache.put(old[0], 2, event)  # type: ignore[arg-type]
    cache.delete(old[1], event)  # type: ignore[arg-type]
    cache.put(KEYS[5], 3, event)  # type: ignore[arg-type]
    checkpoints.finished([event])  # type: ignore[list-item]
    newest = {old[0]: 2, KEYS[2]: 1, KEYS[3]: 1, KEYS[5]: 3}
    checkpointing = asyncio.ensure_future(
        checkpoints.checkpoint_now() if whole else checkpoints.checkpoint_in_slices()
    )
    await broker.handed_over()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not checkpointing.done()
    assert cache.changed == 0, "the checkpoint handed every change to the writer"
    assert stored(table) == before, "the store holds nothing of the checkpoint before the ack"
    assert {key: cache.get(key) for key in KEYS[:6]} == {**dict.fromkeys(KEYS[:6]), **newest}
    assert dict(cache.items()) == newest
    assert len(cache) == len(newest)
    assert event.acked == 0

    broker.acknowledge(failing=failing)
    if failing:
        with pytest.raises(RuntimeError, match="restart the worker"):
            await checkpointing
        assert stored(table) == before, "a failed batch puts nothing into the store"
        assert event.acked == 0, "its events are never acknowledged (replayed after a restart)"
    else:
        await checkpointing
        assert stored(table) == {key: codec.encode(n) for key, n in newest.items()}
        assert event.acked == 1
    assert dict(cache.items()) == newest, "reads see the newest state either way"


async def test_batches_are_no_larger_than_the_producer_s(tmp_path: Path) -> None:
    table = faust_table(tmp_path, "memory://")
    broker = Broker(max_batch_size=1)  # the embedded broker's setting: a record a batch
    writer = with_broker(table, broker)
    writer.write([(key, b"v") for key in KEYS])
    await writer.send()
    assert sorted(len(records) for _, records in broker.batches) == [1] * len(KEYS)


async def test_the_persisted_offset_is_the_last_acknowledged_record(tmp_path: Path) -> None:
    table = faust_table(tmp_path, "rocksdb://")
    broker = Broker(max_batch_size=200)  # a few records per batch
    writer = with_broker(table, broker)
    topic = table.changelog_topic.get_topic_name()
    try:
        for round_ in range(3):
            writer.write([(key, f"v{round_}".encode() * 40) for key in KEYS])
            sending = asyncio.ensure_future(writer.flush())
            await broker.handed_over()
            await asyncio.sleep(0.01)  # every partition's batches (they go concurrently)
            broker.acknowledge()
            await sending
        for partition in range(PARTITIONS):
            assert broker.end[partition] > 0
            persisted = table.data.persisted_offset(TP(topic, partition))
            assert persisted == broker.end[partition] - 1, partition
    finally:
        for db in table.data._dbs.values():
            db.close()


# -- canaries -------------------------------------------------------------------------


def test_faust_still_writes_a_table_key_through_its_changelog_send_and_store_set() -> None:
    """What the bulk writer does instead, per key: when Faust's path changes, compare."""
    assert "self.send_changelog(" in inspect.getsource(Table.on_key_set)
    sent = inspect.getsource(Collection._on_changelog_sent)
    assert "self.data.set_persisted_offset(res.topic_partition, res.offset)" in sent
    assert "self.app.in_transaction" in sent


def test_faust_s_stores_still_have_what_the_bulk_writer_uses() -> None:
    for name in ("_db_for_partition", "_del", "set_persisted_offset", "persisted_offset"):
        assert callable(getattr(rocksdb.Store, name, None)), name
    # The persisted offset goes into the records' WriteBatch the way Faust puts it.
    assert "self._db_for_partition(tp.partition).put(self.offset_key, str(offset).encode())" in (
        inspect.getsource(rocksdb.Store.set_persisted_offset)
    )
    assert rocksdb.Store.offset_key == b"__faust\0offset__"
    assert "_key_index" in rocksdb.Store.__annotations__
    assert "self.use_rocksdict = " in inspect.getsource(rocksdb.Store.__init__)
    set_source = inspect.getsource(rocksdb.Store._set)
    assert "self._key_index[key] = partition" in set_source
    assert "db.put(key, value)" in set_source
    assert "rocksdict.WriteBatch(raw_mode=True)" in inspect.getsource(
        rocksdb.Store.apply_changelog_batch
    )
    assert callable(getattr(rocksdict.WriteBatch, "put", None))
    assert callable(getattr(rocksdict.WriteBatch, "delete", None))
    assert "self.data: MutableMapping = {}" in inspect.getsource(memory.Store.__post_init__)


def test_faust_s_producer_still_holds_an_aiokafka_producer() -> None:
    assert callable(getattr(Producer, "_ensure_producer", None))
    assert "self._producer = self._new_producer()" in inspect.getsource(Producer.on_start)


async def test_aiokafka_s_batch_api_is_still_there_and_a_full_batch_refuses_records() -> None:
    parameters = inspect.signature(aiokafka.AIOKafkaProducer.send_batch).parameters
    assert list(parameters) == ["self", "batch", "topic", "partition"]
    client = aiokafka.AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", max_batch_size=1)
    batch = client.create_batch()
    assert batch.append(key=b"k", value=b"v" * 100, timestamp=None) is not None
    assert batch.append(key=b"k", value=b"v", timestamp=None) is None
    batch.close()
    assert batch.record_count() == 1
