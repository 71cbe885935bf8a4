"""How many keys a table holds, and which keys a partition owns, without reading every
key of a RocksDB store.

Faust's `len(table)` on its RocksDB store (`Store._size`) iterates every key of every
assigned partition's database: at 1M leads that is seconds of the event loop, and the
worker read it every 5 s for `scorer_leads_tracked`. RocksDB keeps an estimate of its
key count (the property `rocksdb.estimate-num-keys`: exact for keys written once, above
it while overwritten or deleted keys wait for a compaction), which Faust does not expose
(no upstream issue found). It is read from the databases of the assigned partitions
(`_dbs_for_actives`, as Faust's `len`: not the standby replicas'), less the offset key
Faust keeps in each. Checked on faust-streaming 0.15.3 with rocksdict 0.3.29; the
canary fails when the store loses `_dbs_for_actives` or rocksdict `property_int_value`.
The memory store's `len` is a dict's: exact and cheap, used as it is.

Likewise Faust lists a table's keys across every assigned partition's database, so the
timer index and the read-model copy of one partition read (and hash, to find their
owner) every key of the worker: `partition_keys` reads the one database that holds the
partition's keys (the tables use the partitioner: a key is written, and recovered, to
its owner partition's database), less Faust's offset key. The canary also checks the
store's `_dbs`, `_visible_keys` and `offset_key`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ESTIMATE_NUM_KEYS = "rocksdb.estimate-num-keys"


def table_size(table: Any) -> tuple[int, bool]:
    """(keys in the table, whether that is RocksDB's estimate rather than exact)."""
    store: Any = getattr(table, "data", None)
    if not hasattr(store, "_dbs_for_actives"):
        return len(table), False
    total = 0
    for db in list(store._dbs_for_actives()):
        estimate = db.property_int_value(ESTIMATE_NUM_KEYS)
        # Faust's offset key (one per database once anything was written to it).
        total += max(0, int(estimate or 0) - 1)
    return total, True


def partition_keys(table: Any, partition: int) -> Iterator[bytes] | None:
    """The keys of a RocksDB table's `partition` (an iterator over a snapshot of its
    database), or None when the store is not RocksDB or the partition has no database
    open here (then the caller lists the table's keys)."""
    store: Any = getattr(table, "data", None)
    dbs = getattr(store, "_dbs", None)
    if not isinstance(dbs, dict) or not hasattr(store, "_visible_keys"):
        return None
    db = dbs.get(partition)
    if db is None:
        return None
    keys: Iterator[bytes] = store._visible_keys(db)
    return keys
