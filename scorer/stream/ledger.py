"""Which alert ids are already on the hand-off topic, per partition.

Together with the order in the handlers (an alert is acknowledged by the broker before
the state recording its crossing is written), this makes alerts effectively-once on the
hand-off topic without Kafka transactions: after a crash, re-processed events produce
the same deterministic alert ids, and the ones already published are found here.

Alerts for a lead or account go to the hand-off partition that owns its key, which is
the partition the agent processes it on, so a worker only ever needs the ledgers of its
own partitions. They are read lazily, on a partition's first alert, and forgotten when
the partition is revoked (another worker may add to it meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)


class AlertLedger:
    def __init__(self, topic: str, client_options: dict[str, Any]) -> None:
        self._topic = topic
        self._client_options = client_options
        self._ids: dict[int, set[str]] = {}
        self._lock = asyncio.Lock()

    def seen(self, partition: int, alert_id: str) -> bool:
        return alert_id in self._ids.get(partition, ())

    def record(self, partition: int, alert_id: str) -> None:
        self._ids.setdefault(partition, set()).add(alert_id)

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._ids.pop(partition, None)

    async def ensure(self, partition: int) -> None:
        if partition in self._ids:
            return
        async with self._lock:
            if partition not in self._ids:
                self._ids[partition] = await self._read(partition)

    async def _read(self, partition: int) -> set[str]:
        tp = TopicPartition(self._topic, partition)
        consumer = AIOKafkaConsumer(
            **self._client_options, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        ids: set[str] = set()
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, ()):
                    ids.add(str(orjson.loads(record.value)["alert_id"]))
        finally:
            await consumer.stop()
        log.info("alert ledger of partition %d: %d alerts already published", partition, len(ids))
        return ids
