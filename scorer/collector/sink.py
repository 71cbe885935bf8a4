"""The Kafka sink: one idempotent producer (acks=all), linger-batched; a request is
answered only after every one of its records was acknowledged. A request's events of one
lead for one topic go out as one event-batch envelope (`intake.pack`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from scorer.collector.intake import Record, pack
from scorer.collector.metrics import CollectorMetrics
from scorer.settings import Settings

log = logging.getLogger("scorer.collector")


class Unavailable(Exception):
    """The broker did not acknowledge in time; the client should retry later."""


class KafkaSink:
    def __init__(self, settings: Settings, metrics: CollectorMetrics) -> None:
        from scorer.stream.admin import client_options

        self._settings = settings
        self._metrics = metrics
        self._options: dict[str, Any] = client_options(settings)
        self._producer: AIOKafkaProducer | None = None
        self._starting: asyncio.Task[None] | None = None
        self._failing_since: float | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None and self._failing_since is None

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **self._options,
            acks="all",
            enable_idempotence=self._settings.collector_idempotent,
            linger_ms=self._settings.collector_linger_ms,
            max_batch_size=self._settings.kafka_max_batch_bytes,
            request_timeout_ms=int(self._settings.collector_produce_timeout_s * 1000) + 1000,
        )

    async def start(self) -> None:
        """Connect in the background; requests get 503 until the broker answers."""
        self._starting = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        delay = 0.5
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning(
                    "collector: broker not reachable yet (%s); retrying", type(exc).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._producer = producer
            self._metrics.kafka_ready.set(1)
            log.info("collector: connected to the broker")
            return

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(self, records: Sequence[Record]) -> None:
        """Produce and wait for every ack; raises Unavailable when that takes too long."""
        if not records:
            return
        producer = self._producer
        if producer is None:
            self._metrics.unavailable.inc()
            raise Unavailable("not connected")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.collector_produce_timeout_s):
                futures = [
                    await producer.send(self._settings.topic(r.topic), r.value, key=r.key.encode())
                    for r in pack(list(records), self._settings.max_event_bytes)
                ]
                for future in futures:  # every ack, in order; no gather task per request
                    await future
        except (TimeoutError, KafkaError) as exc:
            self._metrics.unavailable.inc()
            self._metrics.kafka_ready.set(0)
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                log.warning("collector: broker did not acknowledge (%s)", type(exc).__name__)
            raise Unavailable(type(exc).__name__) from None
        if self._failing_since is not None:
            log.info("collector: the broker acknowledges again")
            self._failing_since = None
            self._metrics.kafka_ready.set(1)
        self._metrics.produce_seconds.observe(time.perf_counter() - started)
        for topic, count in Counter(record.topic for record in records).items():
            self._metrics.events.labels(topic).inc(count)
