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

_MAX_IDLE_POLLS = 4  # x 500 ms without a record
_READ_TIMEOUT_S = 30.0


class AlertLedger:
    """Published ids of one output topic (alerts; scenario actions use one too)."""

    def __init__(
        self,
        topic: str,
        client_options: dict[str, Any],
        id_field: str = "alert_id",
        lead_prefix: str = "lead:",
    ) -> None:
        self._topic = topic
        self._id_field = id_field
        # Ids of a lead's outputs start with lead_prefix + lead id + ":"; an erasure
        # record on the topic ends them, so that the lead's fresh start may reuse them.
        self._lead_prefix = lead_prefix
        self._client_options = client_options
        self._ids: dict[int, set[str]] = {}
        self._lock = asyncio.Lock()

    def seen(self, partition: int, alert_id: str) -> bool:
        return alert_id in self._ids.get(partition, ())

    def record(self, partition: int, alert_id: str) -> None:
        self._ids.setdefault(partition, set()).add(alert_id)

    def erase(self, partition: int, lead_id: str) -> None:
        """Forget the ids of an erased lead's outputs (its fresh start reuses them)."""
        ids = self._ids.get(partition)
        if ids is not None:
            _drop_lead(ids, f"{self._lead_prefix}{lead_id}:")

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._ids.pop(partition, None)

    async def ensure(self, partition: int) -> None:
        if partition in self._ids:
            return
        async with self._lock:
            if partition not in self._ids:
                try:
                    self._ids[partition] = await asyncio.wait_for(
                        self._read(partition), _READ_TIMEOUT_S
                    )
                except TimeoutError:
                    # Stalling every lead of the partition is worse than the rare duplicate
                    # alert this allows (downstream can still dedupe by alert id).
                    log.error(
                        "alert ledger of partition %d: not read within %.0f s; "
                        "alerts re-emitted after a crash may repeat", partition, _READ_TIMEOUT_S,
                    )  # fmt: skip
                    self._ids[partition] = set()

    async def _read(self, partition: int) -> set[str]:
        tp = TopicPartition(self._topic, partition)
        consumer = AIOKafkaConsumer(
            **self._client_options, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        ids: set[str] = set()
        unreadable = 0
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            # Stop at the end offset, or when polls stop advancing: a broker may report an
            # end offset past the last fetchable record (seen on Tansu after a producer was
            # killed mid-request), and an endless read would stall the partition.
            idle_polls = 0
            while await consumer.position(tp) < end and idle_polls < _MAX_IDLE_POLLS:
                batch = await consumer.getmany(tp, timeout_ms=500)
                records = batch.get(tp, ())
                idle_polls = 0 if records else idle_polls + 1
                for record in records:
                    data = _load(record.value)
                    if data.get("type") == "erasure" and isinstance(data.get("lead_id"), str):
                        _drop_lead(ids, f"{self._lead_prefix}{data['lead_id']}:")
                        data = {self._id_field: data.get("erasure_id")}
                    output_id = data.get(self._id_field)
                    if isinstance(output_id, str):
                        ids.add(output_id)
                    else:
                        unreadable += 1
            if idle_polls >= _MAX_IDLE_POLLS:
                log.warning(
                    "alert ledger of partition %d: end offset %d not reached; using what was read",
                    partition, end,
                )  # fmt: skip
        finally:
            await consumer.stop()
        if unreadable:
            # Not ours (a stray producer): skipped, it cannot be an id we would publish.
            log.warning("ledger of %s[%d]: %d records without an id skipped",
                        self._topic, partition, unreadable)  # fmt: skip
        log.info("ledger of %s[%d]: %d ids already published", self._topic, partition, len(ids))
        return ids


def _load(value: bytes | None) -> dict[str, Any]:
    try:
        data = orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _drop_lead(ids: set[str], prefix: str) -> None:
    ids.difference_update([i for i in ids if i.startswith(prefix)])
