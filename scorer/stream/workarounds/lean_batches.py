"""An agent's events in batches, taken from its channel's queue, not one by one.

faust-streaming 0.15.3's `Stream.take_events` adds a processor to the stream and drains
the stream in a background task; per event that task turns the event loop once
(`await sleep(0)` in the stream iterator), awaits the channel's queue through four
coroutines (the repaired quick get is off unless `cython_optimizations` is set), runs
the processor coroutine that appends the event, yields it through two async
generators, and the batch's consumer then acks each event with another coroutine. On a
worker scoring single events this was ~6% of the main thread's samples, plus much of
the event loop's own scheduling charged to no function (docs/benchmark.md).

`take_batches` does, per event, what Faust's stream iterator does and the scorer relies
on, straight from the queue the conductor fills (the agent's channel):

- an event of an older consumer generation, or taken while the flow is suspended
  (a rebalance), is skipped and acknowledged, as Faust's iterator skips it;
- a message of an acking topic is tracked once (`Consumer.track_message`: the set of
  messages Faust waits for before it gives partitions up, and the `on_message_in`
  sensor), and the `on_stream_event_in` sensor is told;
- when the next batch is asked for, each event of the previous one is acknowledged
  (`Stream.ack`: the event's ack and the `on_stream_event_out` sensor), as
  `take_events` does. The scorer holds one more reference per event until the
  checkpoint (`deferred_acks.py`), unchanged.

What it leaves out: the stream's `on_merge` (the scorer's agents add none; processors
run if a stream has any, as Faust's agent test context adds one), the task-local
current event (set in the draining task, never seen by the agent's; no table is
written as an event: the checkpoint writes in bulk, `bulk_changelog.py`), and the
per-event turn of the
event loop. A batch is everything queued when the agent looks,
up to `max_events`: under load that is what arrived while the previous batch was
scored (so the batch grows with the load), and a lone event is handed over at once
instead of waiting out `take_events`' window; `linger_s` > 0 waits that long for more
before a batch short of `max_events` closes.

Upstream: robinhood/faust #563 (message consumption slow); faust-streaming #319 and
robinhood/faust #351 (`take` loses the sensors' event state; this loses it too, as
before). Checked on faust-streaming 0.15.3 with mode-streaming 0.7.1; the canary
(test_lean_batches.py) runs it on a real app's channel and fails when Faust's
iterator changes the per-event steps copied here (its source's hash) or when the
batches, skips, tracking and acks differ from what is described above.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

import faust
from faust.exceptions import Skip
from faust.types import EventT
from mode.utils.futures import maybe_async


async def take_batches(
    stream: faust.StreamT[Any], max_events: int, linger_s: float = 0.0
) -> AsyncGenerator[list[EventT[Any]]]:
    """Batches of the events delivered to `stream`'s channel (see the module docstring)."""
    channel: Any = stream.channel
    if not getattr(channel, "is_iterator", False):
        raise TypeError("take_batches needs an agent's stream (its channel subscribed)")
    queue: Any = channel.queue
    steps = _EventSteps(stream)
    loop = asyncio.get_running_loop()
    batch: list[EventT[Any]] = []
    ended = False
    while not ended:
        admit = steps.admit_processed if steps.processors else steps.admit
        try:
            await admit(await queue.get(), batch)
            deadline = loop.time() + linger_s
            while len(batch) < max_events:
                if not queue.empty():
                    await admit(queue.get_nowait(), batch)
                    continue
                wait = deadline - loop.time()
                if wait <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    break
                await admit(item, batch)
        except StopAsyncIteration:
            # Thrown into the channel to end it (Faust's iterator returns then).
            ended = True
        if not batch:
            continue
        try:
            yield batch
        finally:
            taken, batch = batch, []
            for event in taken:
                steps.acknowledge(event)


class _EventSteps:
    """Faust's stream iterator's steps for one event, and `Stream.ack`'s."""

    def __init__(self, stream: faust.StreamT[Any]) -> None:
        app: Any = stream.app
        self.stream = stream
        self.app = app
        self.track = app.consumer.track_message
        self.acking_topics: set[str] = app.topics.acking_topics
        self.flow_active = app.flow_control.is_active
        self.sensors = app.sensors
        # The stream's processors: none on the scorer's agents; Faust's agent test
        # context adds one that reports each value taken.
        self.processors: list[Callable[[Any], Any]] = getattr(stream, "_processors", [])

    async def admit(self, item: Any, batch: list[EventT[Any]]) -> None:
        self._admit(item, batch)

    async def admit_processed(self, item: Any, batch: list[EventT[Any]]) -> None:
        if not self._admit(item, batch):
            return
        try:
            value = item.value
            for processor in self.processors:
                value = await maybe_async(processor(value))
        except Skip:
            batch.pop()
            self.acknowledge(item)

    def _admit(self, item: Any, batch: list[EventT[Any]]) -> bool:
        if not isinstance(item, EventT):
            return False  # a topic's channel holds events only
        message = item.message
        if not self.flow_active() or message.generation_id != self.app.consumer_generation_id:
            self.acknowledge(item)  # Faust acknowledges a skipped event at once
            return False
        if not message.tracked and message.topic in self.acking_topics:
            message.tracked = True
            self.track(message)
        self.sensors.on_stream_event_in(message.tp, message.offset, self.stream, item)
        batch.append(item)
        return True

    def acknowledge(self, event: EventT[Any]) -> None:
        # `Stream.ack` without its coroutine: the event's ack, then the sensors.
        message = event.message
        last = event.ack()
        self.sensors.on_stream_event_out(message.tp, message.offset, self.stream, event)
        if last:
            self.sensors.on_message_out(message.tp, message.offset, message)
