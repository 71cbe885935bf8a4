"""The producer buffer drains completely before Faust commits offsets (issue 4)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from scorer.stream.workarounds.producer_buffer import DrainingProducerBuffer

# Longer than the 0.1 s after which Faust's own flush gives up on a record.
SLOW_SEND_S = 0.25


@dataclass
class SlowChannel:
    """Stands for a topic whose sends each take a broker round trip."""

    sent: list[int] = field(default_factory=list)

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(SLOW_SEND_S)
        self.sent.append(fut.number)


def record(channel: SlowChannel, number: int) -> Any:
    return SimpleNamespace(number=number, message=SimpleNamespace(channel=channel))


async def started_buffer() -> DrainingProducerBuffer:
    buffer = DrainingProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    return buffer


async def test_flush_returns_only_when_every_record_was_handed_over() -> None:
    channel = SlowChannel()
    buffer = await started_buffer()
    try:
        for number in range(3):
            buffer.put(record(channel, number))
        await asyncio.wait_for(buffer.flush(), timeout=10)
        assert channel.sent == [0, 1, 2]
        assert buffer.size == 0
        assert buffer.in_hand == 0
    finally:
        await buffer.stop()


async def test_flush_waits_for_the_record_in_hand_after_the_queue_emptied() -> None:
    channel = SlowChannel()
    buffer = await started_buffer()
    try:
        buffer.put(record(channel, 7))
        # Let the background task take it: the queue is empty, the record is not sent.
        for _ in range(1000):
            if not buffer.size:
                break
            await asyncio.sleep(0.001)
        assert buffer.in_hand == 1
        await asyncio.wait_for(buffer.flush(), timeout=10)
        assert channel.sent == [7]
    finally:
        await buffer.stop()


async def test_an_empty_buffer_flushes_at_once() -> None:
    buffer = await started_buffer()
    try:
        await asyncio.wait_for(buffer.flush(), timeout=0.05)
    finally:
        await buffer.stop()


async def test_a_stopped_buffer_with_records_left_refuses_to_flush() -> None:
    buffer = DrainingProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    buffer.put(record(SlowChannel(), 1))  # never started: nothing will send it
    buffer._stopped.set()  # as after stop(): should_stop is true
    with pytest.raises(RuntimeError, match="1 records unsent"):
        await buffer.flush()
