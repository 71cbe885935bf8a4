"""A restart with its RocksDB data dir after bulk checkpoints (workarounds/bulk_changelog.py)
re-reads only the changelog records written after the persisted offsets, and its tables
then hold what the changelogs say.

A worker (RocksDB store) scores a small history mix and stops; every partition database
then holds the last changelog record of each of its keys, and its persisted offset is its
changelog's last offset (set from the batches' acknowledgements, not per record). Before
the restart one key's stored value is replaced by another valid record, and a record for
a new key is appended to that changelog partition. A restart that re-read the whole
changelog would overwrite the replaced value; one reading from the persisted offsets keeps
it and adds the new key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import rocksdict
from confluent_kafka import Producer

from bench.history import HistoryMix, lead_histories
from bench.state_preload import LEAD_TABLE, changelog_topic
from scorer.stream.admin import apply_topics
from scorer.stream.codecs import LEAD_CODEC
from tests.support import WorkerProcess, event_messages, produce, records_to_end, run, wait_for

pytestmark = pytest.mark.integration

MIX = HistoryMix(24, heavy_events=6)
OFFSET_KEY = b"__faust\x00offset__"  # where Faust's RocksDB store keeps the persisted offset


def _changelog(
    bootstrap: str, topic: str, partitions: int
) -> tuple[dict[int, dict[bytes, bytes]], dict[int, int]]:
    """Per partition: the last value of every key, and the end offset."""
    records, ends = records_to_end(bootstrap, topic, partitions)
    last: dict[int, dict[bytes, bytes]] = {p: {} for p in range(partitions)}
    for partition, key, value in records:
        if value is None:
            last[partition].pop(cast(bytes, key), None)
        else:
            last[partition][cast(bytes, key)] = value
    return last, ends


def _database(data_dir: Path, partition: int) -> Path:
    found = [p for p in data_dir.rglob(f"*{LEAD_TABLE}*-{partition}.db") if p.is_dir()]
    assert len(found) == 1, f"lead table database of partition {partition}: {found}"
    return found[0]


def _stored(path: Path) -> tuple[dict[bytes, bytes], int | None]:
    """(key -> value, persisted offset) of a partition database (no worker running)."""
    db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
    try:
        values = {bytes(k): bytes(v) for k, v in db.items() if bytes(k) != OFFSET_KEY}
        offset = db.get(OFFSET_KEY)
        return values, int(offset) if offset is not None else None
    finally:
        db.close()


def _replace(path: Path, key: bytes, value: bytes) -> None:
    db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
    try:
        db[key] = value
    finally:
        db.close()


def test_a_restart_with_its_data_dir_reads_only_new_changelog_records(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = make_settings(store="rocksdb://", checkpoint_interval_s=0.2)
    run(apply_topics(settings))
    topic = changelog_topic(settings.app_id, LEAD_TABLE)
    worker = start_worker(settings)
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for chunk in lead_histories(MIX, time.time()):
        for event in chunk:
            by_lead.setdefault(event.key, []).append(event.value)
    sent = 0
    for k in range(max(len(events) for events in by_lead.values())):
        round_k = [events[k] for events in by_lead.values() if len(events) > k]
        run(produce(settings, event_messages(round_k)))
        sent += len(round_k)
        wait_for(lambda sent=sent: worker.events_handled() >= sent, 30, f"{sent} events scored")

    def every_lead_checkpointed() -> Any:
        last, ends = _changelog(settings.kafka_bootstrap, topic, settings.partitions)
        keys = [v for values in last.values() for v in values.items()]
        complete = len(keys) == MIX.leads and all(
            LEAD_CODEC.decode(value).seq == len(by_lead[key.decode()]) for key, value in keys
        )
        return (last, ends) if complete else None

    wait_for(every_lead_checkpointed, 30, "every lead's last state written", 0.5)
    worker.stop()
    last, ends = _changelog(settings.kafka_bootstrap, topic, settings.partitions)  # all of it
    data_dir = Path(settings.data_dir)
    for partition in range(settings.partitions):
        values, persisted = _stored(_database(data_dir, partition))
        assert values == last[partition], f"partition {partition}: the store is the changelog"
        assert persisted == ends[partition] - 1, f"partition {partition}: persisted offset"

    # One key's stored value replaced by another valid record (read again only if the
    # restart re-reads old records), and a new record after the persisted offset.
    partition = next(p for p in range(settings.partitions) if len(last[p]) >= 3)
    (replaced, _), (other, other_value), (_, new_value) = list(last[partition].items())[:3]
    _replace(_database(data_dir, partition), replaced, other_value)
    new_key = b"lead-written-elsewhere"
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(topic, key=new_key, value=new_value, partition=partition)
    assert producer.flush(10) == 0

    start_worker(settings, "restarted").stop()  # ready: its recovery is complete
    values, persisted = _stored(_database(data_dir, partition))
    assert persisted == ends[partition], "the new record read and its offset persisted"
    assert values.get(new_key) == new_value, "the record after the persisted offset was read"
    assert values.get(replaced) == other_value, "records before the persisted offset were not"
    assert {k: v for k, v in values.items() if k not in (replaced, new_key)} == {
        k: v for k, v in last[partition].items() if k != replaced
    }
    assert other in values
