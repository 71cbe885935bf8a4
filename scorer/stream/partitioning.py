"""Which partition owns a lead or an account.

Tables are sharded by the partition an event arrives on, so every event of one lead must
arrive on the same partition. Producers do not agree on the partitioner: aiokafka and
Java use murmur2, librdkafka (confluent-kafka, kcat) defaults to CRC32. The scorer fixes
the owner as murmur2(key) % partitions (what its own producer does) and forwards events
that arrived elsewhere to the internal re-key topic on the owning partition.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=262_144)
def _hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def owner_partition(key: bytes, partitions: int) -> int:
    return _hash(key) % partitions
