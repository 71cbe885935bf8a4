"""A producer buffer whose flush waits until every buffered record is on the broker.

Faust sends score changes, account signals and the other outputs with `send_soon` (table
changelog records did too, until the checkpoint wrote them in bulk and awaited their
acknowledgements itself: bulk_changelog.py): they wait in the producer's buffer until a
background task hands them to aiokafka. Before committing input offsets, Faust flushes
the producer (`Consumer._commit_offsets`), which is what makes at-least-once hold: a
committed offset never runs ahead of the records sent for the events it covers.
But the stock `ProducerBuffer.flush` gives up as soon as 0.1 s pass without a record
leaving the buffer, and never waits for the record the background task is handing over.
On a loaded broker one send takes longer than that, so offsets were committed while the
records of the events they covered were still buffered. A `kill -9`, or a graceful leave
whose last records never left, then lost them: the next owner restored a state without
events that the committed offsets said were done (issue 4's crash and failover tests).

`DrainingProducerBuffer.flush` waits until the buffer is empty and nothing is in hand;
aiokafka's own `flush`, which Faust calls next, then waits for the broker's answers.

Upstream: faust-streaming PR #273 added the flush before a commit, PR #112 made flush
"wait until the buffer is empty" by polling `size`, which misses the record in hand.
Checked on faust-streaming 0.15.3. It overrides `ProducerBuffer._send_pending` and
`App._new_producer`; the canaries fail when either is gone or when the stock flush
starts waiting for the record in hand (then this buffer can go).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

from faust.transport.producer import ProducerBuffer
from faust.types import ProducerT

log = logging.getLogger(__name__)

_POLL_S = 0.002
_REPORT_AFTER_S = 10.0


class DrainingProducerBuffer(ProducerBuffer):
    """See the module docstring. Not for `producer_threaded` (the scorer does not use it)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.in_hand = 0

    async def _send_pending(self, fut: Any) -> None:
        # Called right after a record leaves the queue, in the same loop step: between the
        # two, `size` has dropped but `in_hand` has not risen yet, with no await to see it.
        self.in_hand += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.in_hand -= 1

    async def flush(self) -> None:
        started = time.monotonic()
        reported = started
        while self.size or self.in_hand:
            if self.should_stop:
                # The task that empties the buffer is gone: what is left cannot be sent,
                # and committing past it would lose it.
                raise RuntimeError(f"producer buffer stopped with {self.size} records unsent")
            await asyncio.sleep(_POLL_S)
            now = time.monotonic()
            if now - reported >= _REPORT_AFTER_S:
                reported = now
                log.warning(
                    "waiting %.0f s for the producer buffer to drain (%d records left) "
                    "before committing offsets",
                    now - started,
                    self.size + self.in_hand,
                )

    async def on_stop(self) -> None:
        # Stopping drains what the background task can still send (the stock behaviour).
        await super().flush()


def install_draining_buffer(producer: ProducerT) -> ProducerT:
    """Swap a not yet started producer's buffer for a `DrainingProducerBuffer`."""
    current: Any = getattr(producer, "buffer", None)
    app: Any = getattr(producer, "app", None)
    if current is None or app is None or app.conf.producer_threaded:
        return producer
    if current.state != "init" or current.size:
        raise RuntimeError("the producer buffer can only be swapped before it starts")
    buffer = DrainingProducerBuffer(loop=current.loop, beacon=producer.beacon)
    buffer.app = app
    producer.buffer = buffer
    return producer


class DrainingProducerMixin:
    """Mixed into a `faust.App` before it: its producer gets a `DrainingProducerBuffer`."""

    def _new_producer(self) -> ProducerT:
        return install_draining_buffer(cast(Any, super())._new_producer())
