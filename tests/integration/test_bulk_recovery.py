"""A restarted worker reads its table changelogs in bulk (workarounds/recovery_bulk.py)
and ends with exactly what the changelogs say.

Changelog records are written straight to the changelogs as workers write them: states
of a small history mix (bench/state_preload.py), keys overwritten (the last record
wins) and keys deleted by a tombstone (as an erasure deletes them). A RocksDB worker
started with an empty data directory must then hold, in each partition's database,
exactly the last value of every key not deleted, with Faust's persisted offset at the
partition's last offset; restarted with its data directory after more records were
written, it must read only those records and hold the new contents. A memory-store
worker on the same changelogs reads them all and serves each lead as last written (a
deleted one: 404).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from rocksdict import AccessType, Options, Rdict

from bench.history import HistoryMix
from bench.state_preload import (
    ACCOUNT_TABLE,
    LEAD_TABLE,
    changelog_records,
    changelog_topic,
    lead_id,
    replica,
    score_templates,
)
from scorer.rules import load_rules
from scorer.settings import Settings
from scorer.stream.admin import apply_topics
from scorer.stream.codecs import LEAD_CODEC
from scorer.stream.partitioning import owner_partition
from scorer.stream.views import lead_document
from tests.support import WorkerProcess, http_get, run

pytestmark = pytest.mark.integration

PARTITIONS = 2
MIX = HistoryMix(40, heavy_events=12)
TABLES = (LEAD_TABLE, ACCOUNT_TABLE, "visitor-state")
OFFSET_KEY = b"__faust\0offset__"  # where Faust's RocksDB store keeps the persisted offset
BULK_READ = re.compile(r"Bulk recovery: read (\d+) changelog records")

Record = tuple[str, int, bytes, bytes | None]  # table, partition, key, value (None: delete)
Contents = dict[tuple[str, int], dict[bytes, bytes]]


def _create_changelogs(settings: Settings) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [
        NewTopic(changelog_topic(settings.app_id, t), PARTITIONS, 1,
                 config={"cleanup.policy": "compact"})
        for t in TABLES
    ]  # fmt: skip
    for future in admin.create_topics(topics).values():
        future.result(30)


def _write(settings: Settings, records: list[Record]) -> dict[tuple[str, int], int]:
    """Produce the records in multi-record batches, each partition's last one alone (the
    embedded broker's end offset is its last batch's base offset + 1); the offsets each
    partition ends at."""
    producer = Producer({
        "bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "linger.ms": 5,
        "batch.num.messages": 100,
    })  # fmt: skip
    last: dict[tuple[str, int], int] = {}

    def acked(error: Any, message: Any) -> None:
        assert error is None, error
        where = (message.topic(), message.partition())
        last[where] = max(last.get(where, -1), message.offset())

    held: dict[tuple[str, int], tuple[bytes, bytes | None]] = {}
    for table, partition, key, value in records:
        where = (changelog_topic(settings.app_id, table), partition)
        previous = held.get(where)
        if previous is not None:
            producer.produce(where[0], previous[1], previous[0], partition=partition,
                             on_delivery=acked)  # fmt: skip
        held[where] = (key, value)
    assert producer.flush(30) == 0
    for (topic, partition), (key, value) in held.items():
        producer.produce(topic, value, key, partition=partition, on_delivery=acked)
        assert producer.flush(30) == 0
    return last


def _apply(contents: Contents, records: Iterable[Record]) -> None:
    for table, partition, key, value in records:
        held = contents.setdefault((table, partition), {})
        if value is None:
            held.pop(key, None)
        else:
            held[key] = value


def _tables_on_disk(settings: Settings) -> tuple[Contents, dict[tuple[str, int], int]]:
    """Every table partition's keys and values in the stopped worker's RocksDB databases,
    and the offset Faust persisted in each."""
    contents: Contents = {}
    offsets: dict[tuple[str, int], int] = {}
    for table in TABLES:
        for partition in range(PARTITIONS):
            found = list(settings.data_dir.rglob(f"{table}-{partition}.db"))
            if not found:
                continue
            assert len(found) == 1, found
            db = Rdict(str(found[0]), options=Options(raw_mode=True),
                       access_type=AccessType.read_only())  # fmt: skip
            try:
                values = {bytes(k): bytes(v) for k, v in db.items()}
            finally:
                db.close()
            offset = values.pop(OFFSET_KEY, None)
            if offset is not None:
                offsets[(table, partition)] = int(offset)
            if values:
                contents[(table, partition)] = values
    return contents, offsets


def _bulk_read(worker: WorkerProcess) -> int:
    counts = [int(n) for n in BULK_READ.findall(worker.log_text())]
    assert counts, f"the worker did not read its changelogs in bulk (log: {worker.log_path})"
    return sum(counts)


def _stop(worker: WorkerProcess) -> None:
    worker.stop()
    deadline = time.monotonic() + 15
    while worker.process.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_restarted_worker_recovers_the_changelogs_in_bulk(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings(partitions=PARTITIONS, store="rocksdb://")
    run(apply_topics(settings))
    _create_changelogs(settings)
    rules = load_rules(settings.rules_file)
    templates = score_templates(MIX, rules, time.time())
    states: list[Record] = list(changelog_records(MIX, templates, rules, PARTITIONS))
    leads = [r for r in states if r[0] == LEAD_TABLE]
    accounts = [r for r in states if r[0] == ACCOUNT_TABLE]

    def other_state(index: int, template: int) -> Record:
        """Lead `index` with another template's history (a valid, different state)."""
        state = replica(templates.leads[template], index, MIX).state
        key = lead_id(index).encode()
        return LEAD_TABLE, owner_partition(key, PARTITIONS), key, LEAD_CODEC.encode(state)

    def deleted(record: Record) -> Record:
        return record[0], record[1], record[2], None

    # Leads 0-4 first hold another state, then their own; leads 5-9 are deleted.
    first: list[Record] = [other_state(i, i + 20) for i in range(5)]
    first += states + [deleted(r) for r in leads[5:10]]
    expected: Contents = {}
    _apply(expected, first)
    ends = _write(settings, first)

    worker = start_worker(settings, "empty-dir")
    _stop(worker)
    assert _bulk_read(worker) == len(first)
    on_disk, offsets = _tables_on_disk(settings)
    assert on_disk == expected
    _assert_persisted(settings, offsets, ends)

    # Written while it was down: overwrites, deletes (of a lead and an account), new leads.
    second: list[Record] = [other_state(i, i + 1) for i in range(10, 13)]
    second += [deleted(r) for r in leads[13:15]] + [deleted(accounts[0])]
    second += [other_state(MIX.leads + k, k) for k in range(4)]
    _apply(expected, second)
    ends.update(_write(settings, second))

    worker = start_worker(settings, "own-dir")
    _stop(worker)
    assert _bulk_read(worker) == len(second)
    on_disk, offsets = _tables_on_disk(settings)
    assert on_disk == expected
    _assert_persisted(settings, offsets, ends)

    # The memory store reads everything, every time, into its dict: served as written.
    memory = start_worker(settings.model_copy(update={"store": "memory://"}), "memory")
    assert _bulk_read(memory) == len(first) + len(second)
    now = time.time()
    for (table, _), held in expected.items():
        if table == LEAD_TABLE:
            for key, value in held.items():
                doc = orjson.loads(http_get(f"{memory.base_url}/leads/{key.decode()}")[1])
                want = lead_document(LEAD_CODEC.decode(value), rules, now)
                assert doc["last_changes"] == want["last_changes"], key
    for _, _, key, _ in [r for r in first + second if r[0] == LEAD_TABLE and r[3] is None]:
        assert http_get(f"{memory.base_url}/leads/{key.decode()}")[0] == 404, key
    _stop(memory)


def _assert_persisted(
    settings: Settings, persisted: dict[tuple[str, int], int], ends: dict[tuple[str, int], int]
) -> None:
    """Faust's persisted offset of each partition written to is its last record's."""
    for (topic, partition), end in ends.items():
        table = topic.removeprefix(f"{settings.app_id}-").removesuffix("-changelog")
        assert persisted.get((table, partition)) == end, (table, partition, persisted)
