"""A RocksDB table's size from RocksDB's estimate (workarounds/table_size.py), with its
canary: Faust's store still keeps its assigned partitions' databases where it is read."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import rocksdict
from faust.stores.rocksdb import Store

from scorer.stream.workarounds.table_size import ESTIMATE_NUM_KEYS, partition_keys, table_size

OFFSET_KEY = b"__faust\x00offset__"


def test_faust_s_rocksdb_store_still_lists_its_assigned_databases() -> None:
    assert callable(getattr(Store, "_dbs_for_actives", None))
    assert callable(getattr(rocksdict.Rdict, "property_int_value", None))
    assert callable(getattr(Store, "_visible_keys", None))
    assert "_dbs" in Store.__annotations__
    assert Store.offset_key == OFFSET_KEY


def test_a_partitions_keys_are_its_own_databases_without_faust_s_offset_key(
    tmp_path: Path,
) -> None:
    db = rocksdict.Rdict(str(tmp_path / "0"))
    try:
        db[OFFSET_KEY] = b"7"
        db[b"lead-a"] = db[b"lead-b"] = b"x"
        # Faust's own key listing, on a stand-in for its store (no app needed).
        store = SimpleNamespace(_dbs={0: db}, use_rocksdict=True, offset_key=OFFSET_KEY)
        store._visible_keys = lambda d: Store._visible_keys(store, d)  # type: ignore[arg-type]
        table: Any = SimpleNamespace(data=store)
        assert list(partition_keys(table, 0) or ()) == [b"lead-a", b"lead-b"]
        assert partition_keys(table, 1) is None  # no database here: the caller lists keys
        assert partition_keys({b"a": b"1"}, 0) is None  # the memory store
    finally:
        db.close()


def test_a_rocksdb_tables_size_is_the_estimate_less_faust_s_offset_keys(tmp_path: Path) -> None:
    dbs = []
    for partition, keys in enumerate((300, 200)):
        db = rocksdict.Rdict(str(tmp_path / str(partition)))
        db[OFFSET_KEY] = b"42"
        for i in range(keys):
            db[f"lead-{partition}-{i}".encode()] = b"x"
        dbs.append(db)
    table: Any = SimpleNamespace(data=SimpleNamespace(_dbs_for_actives=lambda: iter(dbs)))
    try:
        assert table_size(table) == (500, True)
        # Overwritten keys count again until a compaction: an estimate, never below.
        for i in range(100):
            dbs[0][f"lead-0-{i}".encode()] = b"y"
        size, estimated = table_size(table)
        assert estimated
        assert size >= 500
        assert dbs[0].property_int_value(ESTIMATE_NUM_KEYS) is not None
    finally:
        for db in dbs:
            db.close()


def test_a_memory_table_is_counted_exactly() -> None:
    assert table_size({b"a": b"1", b"b": b"2"}) == (2, False)
