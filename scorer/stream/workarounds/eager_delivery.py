"""Hand each fetched message to the agents' channels without four tasks per message.

faust-streaming 0.15.3's consumer loop (`Consumer._drain_messages`) delivers every
fetched message with `await self.wait_first(callback(message), self.suspend_flow.wait())`:
mode's `wait_first` wraps the delivery, the flow's suspend event and the service's
stopped and crashed events in four new tasks, waits for the first with `asyncio.wait`
and cancels the other three, so every message costs four tasks, their cancellations
and an `asyncio.wait`, and at least two turns of the event loop. Profiled on a worker
scoring single events that was ~4% of the main thread's samples, more with the loop's
own scheduling charged to it (docs/benchmark.md, "Faust's consumer path").

The race only matters when the delivery has to wait: the conductor's delivery
(`Conductor` `on_message`: the flow control, the producer buffer above its limit, an
agent's full channel) awaits only then; otherwise it runs to its end without yielding.
So this loop starts the delivery in place (its first step, synchronously, as Python
3.12's eager tasks do); a delivery that finishes there (nearly all) costs no task at
all, and one that has to wait is finished in a task raced against the flow's suspend
event exactly as Faust does. With the flow already suspended the delivery is not
started in place: Faust's own `wait_first` path runs. Everything else in the loop is
Faust's (the gap tracking, the commit every `broker_commit_every`, the read offsets,
the yield every 100 messages).

Upstream: faust-streaming #229 (the conductor deadlocked in this `wait_first`);
robinhood/faust #563 (message consumption slow). Checked on faust-streaming 0.15.3 with
mode-streaming 0.7.1 on CPython 3.11; the canary (test_eager_delivery.py) fails when
Faust's loop changes (its source's hash) so this copy is compared again, and checks the
in-place start on a delivery that finishes, one that waits, and one that fails.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.transport.drivers.aiokafka import Transport as AIOKafkaTransport
from mode import Service, ServiceT


def start_in_place(coro: Awaitable[Any]) -> Awaitable[Any] | None:
    """Run `coro` up to its first suspension. None when it finished there (its result
    is dropped, as the consumer loop drops it), else an awaitable that finishes it
    (`coro` itself when it is not a coroutine: nothing is started then).

    An exception raised in the first step propagates here, as Faust's `wait_first`
    re-raises the delivery's exception.
    """
    if not isinstance(coro, Coroutine):
        return coro
    try:
        pending = coro.send(None)
    except StopIteration:
        return None
    return _finish(coro, pending)


async def _finish(coro: Coroutine[Any, Any, Any], pending: Any) -> Any:
    return await _resume(coro, pending)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], pending: Any) -> Generator[Any, Any, Any]:
    """Drive `coro` on from the future it yielded: the task running this sees that
    future (and sends, throws or cancels into `coro` as it would into a coroutine of
    its own)."""
    to_yield = pending
    while True:
        try:
            received = yield to_yield
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # a cancellation or an error thrown in by the task
            try:
                to_yield = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                to_yield = coro.send(received)
            except StopIteration as stop:
                return stop.value


class EagerDeliveryConsumer(AIOKafkaConsumer):
    """Faust's aiokafka consumer with `_drain_messages` delivering in place (see above)."""

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # noqa: PLR0912, PLR0915
        # Faust 0.15.3's loop line for line, but for the delivery (marked below).
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended: Callable[[], bool] = self.suspend_flow.is_set

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None:  # noqa: SIM102
                                if self._n_acked >= commit_every:
                                    self._n_acked = 0
                                    await self.commit()
                            # -- the scorer's change: in place unless it has to wait.
                            if suspended():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:
                                rest = start_in_place(callback(message))
                                if rest is not None:
                                    await self.wait_first(rest, self.suspend_flow.wait())
                            # -- end of the change.
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


class EagerDeliveryTransport(AIOKafkaTransport):
    """Faust's aiokafka transport whose consumer is an `EagerDeliveryConsumer`."""

    Consumer = EagerDeliveryConsumer


class EagerDeliveryMixin:
    """Mixed into a `faust.App` before it: its consumer delivers in place."""

    def _new_transport(self) -> Any:
        transport = cast(Any, super())._new_transport()
        if type(transport) is AIOKafkaTransport:
            return EagerDeliveryTransport(transport.url, transport.app)
        return transport  # another driver (none in use here): Faust's own loop
