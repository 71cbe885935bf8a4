"""A RocksDB table's size from RocksDB's estimate (workarounds/table_size.py), with its
canary: Faust's store still keeps its assigned partitions' databases where it is read."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import rocksdict
from faust.stores.rocksdb import Store

from scorer.stream.workarounds.table_size import ESTIMATE_NUM_KEYS, table_size

OFFSET_KEY = b"__faust\x00offset__"


def test_faust_s_rocksdb_store_still_lists_its_assigned_databases() -> None:
    assert callable(getattr(Store, "_dbs_for_actives", None))
    assert callable(getattr(rocksdict.Rdict, "property_int_value", None))


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
