"""Options of the tables' stores: RocksDB's memory kept small, the table data on disk.

Faust opens one RocksDB database per table partition with its defaults: a 2 GB block
cache of its own, and up to three 64 MB write buffers. A worker holds three tables of
`SCORER_PARTITIONS` partitions each, so those bound its memory only at many GB, and at
1M leads the write buffers filled by recovery and the caches filled by the read-model
copy are most of its RSS. A worker keeps the hot states decoded itself (state_cache.py)
and the operating system caches the files, so each database gets a small block cache
(SCORER_ROCKSDB_CACHE_MB) and two write buffers of SCORER_ROCKSDB_WRITE_BUFFER_MB.
The memory store takes no options.
"""

from __future__ import annotations

from typing import Any

from scorer.settings import Settings

_MB = 1024 * 1024


def table_options(settings: Settings) -> dict[str, Any] | None:
    """`options` of a table (Faust hands them to its store: RocksDB's `RocksDBOptions`)."""
    if not settings.store.startswith("rocksdb"):
        return None
    return {
        "block_cache_size": settings.rocksdb_cache_mb * _MB,
        "block_cache_compressed_size": 0,
        "write_buffer_size": settings.rocksdb_write_buffer_mb * _MB,
        "max_write_buffer_number": 2,
    }
