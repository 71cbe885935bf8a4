"""Sending the outputs that must be neither lost nor repeated, with bounded waits.

Hand-off alerts and scenario actions are acknowledged by the broker before the state
that records them is written (see `ledger.py`). They go through their own producer rather
than Faust's shared one for two reasons:

- A wait must be bounded. Faust's producer gives up after `producer_request_timeout`
  (20 minutes), and a worker restarted after `kill -9` was seen waiting that long for one
  acknowledgement on the embedded broker while every partition behind it stalled.
- What to do after a timeout must be ours to decide. This producer is closed and made
  anew (a wedged connection goes with it), and the caller re-reads the ledger of the
  partitions involved before sending again, so a record that did land despite the
  timeout is not published twice.

Each record names its partition: the partition that owns its key, which is the partition
the agent processed the key on and whose ledger was consulted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not acknowledge every record in time; some may have landed."""


@dataclass(frozen=True, slots=True)
class OutputRecord:
    topic: str
    partition: int
    key: bytes
    value: bytes


class AckedPublisher:
    def __init__(
        self, client_options: dict[str, Any], max_batch_bytes: int, timeout_s: float
    ) -> None:
        self._client_options = client_options
        self._max_batch_bytes = max_batch_bytes
        self._timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None

    async def send_all(self, records: Sequence[OutputRecord]) -> None:
        """Send and wait for every acknowledgement, or raise `PublishFailed`."""
        try:
            await asyncio.wait_for(self._send_all(records), self._timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            await self.stop()
            raise PublishFailed(f"{type(exc).__name__} after {len(records)} records") from exc

    async def _send_all(self, records: Sequence[OutputRecord]) -> None:
        producer = await self._started()
        pending = [
            await producer.send(r.topic, r.value, key=r.key, partition=r.partition) for r in records
        ]
        await asyncio.gather(*pending)

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            timeout_ms = int(self._timeout_s * 1000)
            producer = AIOKafkaProducer(
                **self._client_options,
                acks="all",
                linger_ms=0,
                max_batch_size=self._max_batch_bytes,
                request_timeout_ms=timeout_ms,
                metadata_max_age_ms=60_000,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), self._timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            log.warning("hand-off producer did not stop cleanly (%s)", type(exc).__name__)
