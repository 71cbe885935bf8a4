"""Where an alert's time goes inside the worker (the BENCH_TRACE_ALERTS hook).

Wraps, in the benchmark's worker process only, the lead agent's batch handler, the
alert publishing and the checkpoint, and writes one JSON line per published alert and
per checkpoint to a file:

- alert: `event_id` (the event that crossed), `fetched` (the wall time aiokafka's
  fetcher handed its record to Faust's consumer loop), `in` (the agent took the event
  from its channel queue: `Message.time_in`, set by Faust's monitor when the message is
  tracked), `batch` (the lead batch holding it started), `publish` (phase 2 began: the
  alert is about to be sent) and `acked` (the broker acknowledged it);
- loop: once a second, `max_lag` (the longest a 5 ms sleep overslept in that second:
  how long the event loop was held by one step, a batch or a checkpoint, or starved of
  CPU) and `over_50ms` (such oversleeps above 50 ms);
- checkpoint: `at` (wall time it started), `s` (how long it held the event loop; a
  checkpoint in slices lets the agents in between, `span_s` is then its whole length)
  and `keys` (states written).

bench/latency.py joins the alerts with the scheduled send time (`due`) and the time its
watcher received them, so an alert's latency splits into: due → fetched (producer, broker,
fetch wait, aiokafka's buffer until Faust asks), fetched → in (Faust's consumer loop and
the channel queue: the agent busy with earlier batches or checkpoints, the conductor
waiting for the producer buffer to ebb), in → batch (the agent's batch),
batch → publish (scoring the batch), publish → acked (the hand-off producer's round
trip), acked → received (the watcher's fetch).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import IO, Any

import orjson

_FETCHED_KEPT = 200_000  # records whose fetch time is remembered (the newest)
_fetched: OrderedDict[tuple[str, int, int], float] = OrderedDict()
_batch: contextvars.ContextVar[tuple[float, dict[bytes, tuple[float | None, float]]] | None] = (
    contextvars.ContextVar("bench_alert_batch", default=None)
)


def _wall(monotonic: float | None) -> float | None:
    if monotonic is None:
        return None
    return time.time() - (time.monotonic() - monotonic)


Write = Callable[[dict[str, Any]], None]


def install(path: str) -> None:
    out: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115 (open for the process)

    def write(record: dict[str, Any]) -> None:
        out.write(orjson.dumps(record) + b"\n")

    _trace_fetches()
    _trace_alerts(write)
    _trace_checkpoints(write)
    _trace_loop_lag(write)


_LAG_PROBE_S = 0.005


def _trace_loop_lag(write: Write) -> None:
    """Sample the event loop's lag from the lead agent's first batch on."""
    from scorer.stream.handlers import ScorerContext

    handle_lead_batch = ScorerContext.handle_lead_batch
    started: list[asyncio.Task[None]] = []

    async def sample() -> None:
        second, worst, over = time.monotonic(), 0.0, 0
        while True:
            before = time.monotonic()
            await asyncio.sleep(_LAG_PROBE_S)
            lag = time.monotonic() - before - _LAG_PROBE_S
            worst = max(worst, lag)
            over += lag > 0.05
            if before - second >= 1.0:
                write({"type": "loop", "at": time.time(), "max_lag": worst, "over_50ms": over})
                second, worst, over = before, 0.0, 0

    @functools.wraps(handle_lead_batch)
    async def first_batch_starts_sampling(self: ScorerContext, events: Iterable[Any]) -> None:
        if not started:
            started.append(asyncio.get_running_loop().create_task(sample()))
        await handle_lead_batch(self, events)

    ScorerContext.handle_lead_batch = first_batch_starts_sampling  # type: ignore[method-assign]


def _trace_fetches() -> None:
    from aiokafka.consumer.fetcher import Fetcher

    # Faust's consumer thread asks the fetcher directly (not AIOKafkaConsumer.getmany).
    fetched_records = Fetcher.fetched_records

    @functools.wraps(fetched_records)
    async def traced_fetched_records(self: Any, *args: Any, **kwargs: Any) -> Any:
        records = await fetched_records(self, *args, **kwargs)
        now = time.time()
        for tp, batch in records.items():
            for record in batch:
                _fetched[(tp.topic, tp.partition, record.offset)] = now
        while len(_fetched) > _FETCHED_KEPT:
            _fetched.popitem(last=False)
        return records

    Fetcher.fetched_records = traced_fetched_records  # type: ignore[method-assign]


def _trace_alerts(write: Write) -> None:
    from scorer.stream.handlers import ScorerContext

    handle_lead_batch = ScorerContext.handle_lead_batch

    @functools.wraps(handle_lead_batch)
    async def traced_batch(self: ScorerContext, events: Iterable[Any]) -> None:
        events = list(events)
        arrived: dict[bytes, tuple[float | None, float]] = {}
        for event in events:
            message = event.message
            time_in = _wall(getattr(message, "time_in", None))
            if isinstance(message.key, bytes) and time_in is not None:
                fetched = _fetched.pop((message.topic, message.partition, message.offset), None)
                arrived[message.key] = (fetched, time_in)
        token = _batch.set((time.time(), arrived))
        try:
            await handle_lead_batch(self, events)
        finally:
            _batch.reset(token)

    publish_acked = ScorerContext.publish_acked

    @functools.wraps(publish_acked)
    async def traced_publish(
        self: ScorerContext, ledger: Any, outputs: list[Any], *args: Any
    ) -> None:
        started = time.time()
        await publish_acked(self, ledger, outputs, *args)
        acked = time.time()
        if ledger is not self.ledger:
            return  # scenario actions or erasures, not alerts
        batch = _batch.get()
        for output in outputs:
            alert = orjson.loads(output.record.value)
            fetched, time_in = (
                batch[1].get(output.record.key, (None, None)) if batch else (None, None)
            )
            write({
                "type": "alert", "event_id": alert.get("event_id"), "kind": alert.get("kind"),
                "fetched": fetched, "in": time_in,
                "batch": batch[0] if batch else None,
                "publish": started, "acked": acked,
            })  # fmt: skip

    ScorerContext.handle_lead_batch = traced_batch  # type: ignore[method-assign]
    ScorerContext.publish_acked = traced_publish  # type: ignore[method-assign]


def _trace_checkpoints(write: Write) -> None:
    from scorer.stream.checkpointer import Checkpointer

    checkpoint: Callable[[Checkpointer], Awaitable[None]] = Checkpointer.checkpoint

    # A whole checkpoint (at a rebalance, at stop) is awaited: it waits for the
    # changelog's acknowledgements before it acknowledges the events.
    @functools.wraps(checkpoint)
    async def traced_checkpoint(self: Checkpointer) -> None:
        at, started = time.time(), time.perf_counter()
        changed = sum(cache.changed for cache in self.caches)
        await checkpoint(self)
        if changed:
            write({"type": "checkpoint", "at": at, "s": time.perf_counter() - started,
                   "keys": changed})  # fmt: skip

    in_slices = getattr(Checkpointer, "checkpoint_in_slices", None)
    if in_slices is not None:

        @functools.wraps(in_slices)
        async def traced_in_slices(self: Checkpointer) -> None:
            at, started = time.time(), time.perf_counter()
            changed = sum(cache.changed for cache in self.caches)
            seconds: list[float] = []
            on_checkpoint = self.on_checkpoint

            def observe(keys: int, events: int, held: float) -> None:
                seconds.append(held)
                on_checkpoint(keys, events, held)

            self.on_checkpoint = observe
            try:
                await in_slices(self)
            finally:
                self.on_checkpoint = on_checkpoint
            if changed and seconds:
                write({"type": "checkpoint", "at": at, "s": seconds[0], "keys": changed,
                       "span_s": time.perf_counter() - started})  # fmt: skip

        Checkpointer.checkpoint_in_slices = traced_in_slices  # type: ignore[method-assign]

    Checkpointer.checkpoint = traced_checkpoint  # type: ignore[method-assign]
