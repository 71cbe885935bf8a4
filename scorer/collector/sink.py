"""The Kafka sink: one idempotent producer (acks=all); a request is answered only after
every one of its records was acknowledged. Accepted events of all requests linger a few
milliseconds and go out as partition envelopes (see linger.py)."""

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

from scorer.collector.intake import Record
from scorer.collector.linger import DeliveryFailed, EnvelopeLinger
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
        self._linger: EnvelopeLinger | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None and self._failing_since is None

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **self._options,
            acks="all",
            enable_idempotence=self._settings.collector_idempotent,
            linger_ms=0,  # the envelopes linger already (see linger.py)
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
            self._linger = self._new_linger(producer)
            self._metrics.kafka_ready.set(1)
            log.info("collector: connected to the broker")
            return

    def _new_linger(self, producer: AIOKafkaProducer) -> EnvelopeLinger:
        settings = self._settings

        async def produce(topic: str, partition: int | None, key: bytes, value: bytes) -> Any:
            return await producer.send(settings.topic(topic), value, key=key, partition=partition)

        async def partitions_of(topic: str) -> int:
            return len(await producer.partitions_for(settings.topic(topic)))

        return EnvelopeLinger(
            produce, partitions_of,
            linger_s=settings.collector_linger_ms / 1000,
            max_events=settings.collector_envelope_max_events,
            max_bytes=settings.max_event_bytes,
            on_sent=self._metrics.envelope_events.observe,
        )  # fmt: skip

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        if self._linger is not None:
            await self._linger.stop(self._settings.collector_produce_timeout_s)
            self._linger = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(self, records: Sequence[Record]) -> None:
        """Produce and wait for every ack; raises Unavailable when that takes too long."""
        if not records:
            return
        linger = self._linger
        if linger is None:
            self._metrics.unavailable.inc()
            raise Unavailable("not connected")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.collector_produce_timeout_s):
                for acked in await linger.submit(records):  # no gather task per request
                    await acked
        except (TimeoutError, KafkaError, DeliveryFailed) as exc:
            self._metrics.unavailable.inc()
            self._metrics.kafka_ready.set(0)
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                log.warning("collector: broker did not acknowledge (%s)", _name(exc))
            raise Unavailable(_name(exc)) from None
        if self._failing_since is not None:
            log.info("collector: the broker acknowledges again")
            self._failing_since = None
            self._metrics.kafka_ready.set(1)
        self._metrics.produce_seconds.observe(time.perf_counter() - started)
        for topic, count in Counter(record.topic for record in records).items():
            self._metrics.events.labels(topic).inc(count)


def _name(exc: Exception) -> str:
    """The error's class (a failed delivery carries its cause's)."""
    return str(exc) if isinstance(exc, DeliveryFailed) else type(exc).__name__
