"""Linger-batching of accepted events into partition envelopes, across requests.

One Kafka message costs the worker more than scoring its event does, and a collector's
requests mostly carry one or a few events of one visitor. So accepted events wait here up
to the linger (SCORER_COLLECTOR_LINGER_MS) and go out grouped per (topic, owner
partition) as one `leads.event-batch.v1` envelope each: events of every lead the
partition owns (murmur2(lead) % partitions, the worker's owner), keyed by the first one.
An envelope closes early at SCORER_COLLECTOR_ENVELOPE_MAX_EVENTS events or before it
would pass SCORER_MAX_EVENT_BYTES (the worker's limit). A lone event goes out as itself.

Each request waits for the futures of the envelopes holding its events, resolved when
the broker acknowledged them (or failed), so a request is answered only once every one
of its events is stored. One sender task produces closed envelopes in closing order, so
a lead's events keep their order on its partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from scorer.collector.intake import TOPIC_BY_CATEGORY, Record
from scorer.contracts.events import EVENT_BATCH_SCHEMA
from scorer.stream.partitioning import owner_partition

log = logging.getLogger("scorer.collector")

ENVELOPE_HEAD = b'{"schema":"' + EVENT_BATCH_SCHEMA.encode() + b'","events":['
ENVELOPE_TAIL = b"]}"
_FRAME = len(ENVELOPE_HEAD) + len(ENVELOPE_TAIL)
_INPUT_TOPICS = frozenset(TOPIC_BY_CATEGORY.values())
_PARTITIONS_TTL_S = 60.0  # how long a topic's partition count is trusted (topics can grow)

# (contract topic, partition or None for the producer's own choice, key, value) -> the
# broker's delivery future (aiokafka's `send`).
Produce = Callable[[str, int | None, bytes, bytes], Awaitable["asyncio.Future[Any]"]]
PartitionsOf = Callable[[str], Awaitable[int]]


class DeliveryFailed(Exception):
    """The broker did not take an envelope; the message names the error's class only."""


class _Envelope:
    """An envelope being filled (or a record of a non-input topic, alone)."""

    __slots__ = ("acked", "key", "partition", "size", "topic", "values")

    def __init__(self, topic: str, partition: int | None, key: str) -> None:
        self.topic = topic
        self.partition = partition
        self.key = key
        self.values: list[bytes] = []
        self.size = _FRAME
        self.acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Nobody may be waiting any more (a request answered 503): mark it retrieved.
        self.acked.add_done_callback(_retrieve)

    def value(self) -> bytes:
        if len(self.values) == 1:
            return self.values[0]
        return b"".join((ENVELOPE_HEAD, b",".join(self.values), ENVELOPE_TAIL))


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class EnvelopeLinger:
    """Groups records per (topic, owner partition) for up to `linger_s`; see the module."""

    def __init__(
        self,
        produce: Produce,
        partitions_of: PartitionsOf,
        *,
        linger_s: float,
        max_events: int,
        max_bytes: int,
        on_sent: Callable[[int], None] = lambda events: None,
    ) -> None:
        self._produce = produce
        self._partitions_of = partitions_of
        self._linger_s = linger_s
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._on_sent = on_sent
        self._open: dict[tuple[str, int], _Envelope] = {}
        self._closed: deque[_Envelope] = deque()
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._partitions: dict[str, tuple[int, float]] = {}  # topic -> (count, read at)
        self._sender: asyncio.Task[None] | None = None
        self._unsettled: set[asyncio.Future[None]] = set()  # for `stop`

    async def submit(self, records: Sequence[Record]) -> list[asyncio.Future[None]]:
        """Take a request's records; the futures of the envelopes that hold them."""
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_closed())
        topics = {r.topic for r in records} & _INPUT_TOPICS
        counts = {topic: await self._count(topic) for topic in topics}
        futures: dict[int, asyncio.Future[None]] = {}
        for record in records:
            envelope = self._add(record, counts.get(record.topic))
            futures[id(envelope.acked)] = envelope.acked
        if self._open:
            if self._linger_s <= 0:
                self._close_all()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._linger_s, self._close_all)
        return list(futures.values())

    def _new(self, topic: str, partition: int | None, key: str) -> _Envelope:
        envelope = _Envelope(topic, partition, key)
        self._unsettled.add(envelope.acked)
        envelope.acked.add_done_callback(self._unsettled.discard)
        return envelope

    def _add(self, record: Record, partitions: int | None) -> _Envelope:
        if partitions is None:  # not an input topic (identity links): alone, as it is
            alone = self._new(record.topic, None, record.key)
            alone.values.append(record.value)
            self._close(alone)
            return alone
        partition = owner_partition(record.key.encode(), partitions)
        slot = (record.topic, partition)
        envelope = self._open.get(slot)
        if envelope is not None and envelope.size + len(record.value) + 1 > self._max_bytes:
            self._close(self._open.pop(slot))
            envelope = None
        if envelope is None:
            envelope = self._open[slot] = self._new(record.topic, partition, record.key)
        envelope.values.append(record.value)
        envelope.size += len(record.value) + 1
        if len(envelope.values) >= self._max_events:
            self._close(self._open.pop(slot))
        return envelope

    def _close(self, envelope: _Envelope) -> None:
        self._closed.append(envelope)
        self._wake.set()

    def _close_all(self) -> None:
        self._timer = None
        for envelope in self._open.values():
            self._closed.append(envelope)
        self._open.clear()
        self._wake.set()

    async def _count(self, topic: str) -> int:
        known = self._partitions.get(topic)
        now = time.monotonic()
        if known is None or now - known[1] > _PARTITIONS_TTL_S:
            known = (await self._partitions_of(topic), now)
            self._partitions[topic] = known
        return known[0]

    async def _send_closed(self) -> None:
        """Produce closed envelopes in closing order; settle each one's future on its ack."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._closed:
                envelope = self._closed.popleft()
                try:
                    key, value = envelope.key.encode(), envelope.value()
                    delivery = await self._produce(envelope.topic, envelope.partition, key, value)
                except Exception as exc:  # the request gets its 503, the sender goes on
                    _settle(envelope.acked, DeliveryFailed(type(exc).__name__))
                    continue
                delivery.add_done_callback(functools.partial(self._delivered, envelope))

    def _delivered(self, envelope: _Envelope, delivery: asyncio.Future[Any]) -> None:
        if delivery.cancelled():
            _settle(envelope.acked, DeliveryFailed("CancelledError"))
        elif (exc := delivery.exception()) is not None:
            _settle(envelope.acked, DeliveryFailed(type(exc).__name__))
        else:
            _settle(envelope.acked, None)
            self._on_sent(len(envelope.values))

    async def stop(self, timeout_s: float) -> None:
        """Send what is open and wait (up to `timeout_s`) for it to be acknowledged."""
        if self._timer is not None:
            self._timer.cancel()
        self._close_all()
        if self._unsettled and self._sender is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(*self._unsettled, return_exceptions=True)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None


def _settle(future: asyncio.Future[None], exc: DeliveryFailed | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
