"""RocksDB table partitions get small caches; the memory store gets no options."""

from __future__ import annotations

from pathlib import Path

from faust.stores.rocksdb import RocksDBOptions

from scorer.settings import load_settings
from scorer.stream.store_options import table_options


def test_rocksdb_tables_get_the_configured_cache_and_write_buffers(tmp_path: Path) -> None:
    settings = load_settings({}, store="rocksdb://", rocksdb_cache_mb=4, rocksdb_write_buffer_mb=2)
    options = table_options(settings)
    assert options == {
        "block_cache_size": 4 * 2**20, "block_cache_compressed_size": 0,
        "write_buffer_size": 2 * 2**20, "max_write_buffer_number": 2,
    }  # fmt: skip
    database = RocksDBOptions(**options).open(tmp_path / "t.db")  # Faust takes them
    database[b"k"] = b"v"
    assert database[b"k"] == b"v"


def test_the_memory_store_takes_no_options() -> None:
    assert table_options(load_settings({})) is None
