"""Agents and timers of a scorer worker. Bodies stay short: the context does the work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import faust
import orjson
from faust.types import EventT

from scorer.contracts.outputs import timer_tick
from scorer.stream.checkpointer import Checkpointer
from scorer.stream.handlers import ScorerContext
from scorer.stream.workarounds.consumer_offsets import committed_start, consumed_up_to
from scorer.stream.workarounds.lean_batches import take_batches
from scorer.stream.workarounds.stall_guard import StallGuard, describe, refetch

if TYPE_CHECKING:
    from scorer.stream.app import ScorerFaustApp

# A batch is every event waiting for the agent, up to this many: under load it grows
# with what arrived while the previous batch was scored (coalescing writes), and a lone
# event goes at once (no hand-off waits for a window). A linger > 0 would wait that
# long for more before a batch short of BATCH_EVENTS closes.
BATCH_EVENTS = 500
BATCH_WITHIN_S = 0.0
# How often the worker looks whether a checkpoint is due (or a rebalance waits for one).
_CHECKPOINT_POLL_S = 0.05
# An input partition with records waiting and no progress this long is fetched again.
_STALL_AFTER_S = 15.0
# How often a worker checks that Redis still holds its marker (one round trip).
_READ_MODEL_CHECK_S = 2.0

log = logging.getLogger(__name__)


def batches(stream: faust.StreamT[bytes]) -> AsyncGenerator[Sequence[EventT[Any]]]:
    # Straight from the agent's channel, not Faust's per-event stream iteration
    # (workarounds/lean_batches.py: the same tracking, skips and acks per event).
    # Closed by the agent (`aclosing`) when it stops, as Faust's stream closes its own
    # take generators: the last batch's acknowledgement is not left to the collector.
    return take_batches(stream, BATCH_EVENTS, linger_s=BATCH_WITHIN_S)


async def to_completion(batch: Awaitable[None]) -> None:
    """Finish a started batch even if the agent is cancelled meanwhile.

    A worker stopping gracefully cancels its agents before the consumer's last commit. A
    batch cut short after its alerts went out but before its states reached the caches
    lost them once its events were acknowledged: the next owner restored states missing
    those events (the failover test: every alert present, scores short by the events of
    the last batch). A cancelled agent therefore waits for its batch, then stops (and
    checkpoints it, see `checkpointed`).
    """
    task = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def checkpointed(
    app: faust.App,
    checkpoints: Checkpointer,
    events: Sequence[EventT[Any]],
    handle: Callable[[Sequence[EventT[Any]]], Awaitable[None]],
) -> None:
    """Handle a batch whose events are acknowledged by the checkpoint that writes their
    states (see state_cache.py): now if Faust waits for it or the interval is 0, else the
    periodic one (the checkpoint task's, written in slices between batches)."""
    checkpoints.hold(events)
    try:
        await to_completion(handle(events))
    finally:
        checkpoints.finished(events)
        if faust_waits_for_acks(app) or checkpoints.interval_s == 0:
            await checkpoints.checkpoint_now()


async def score_batches(
    app: faust.App,
    checkpoints: Checkpointer,
    stream: faust.StreamT[bytes],
    handle: Callable[[Sequence[EventT[Any]]], Awaitable[None]],
) -> None:
    """An agent's body: every batch handled and checkpointed until the agent stops."""
    try:
        async with aclosing(batches(stream)) as taken:
            async for events in taken:
                await checkpointed(app, checkpoints, events, handle)
    finally:
        # A stopping worker commits once more after its agents stopped: with this
        # checkpoint, that commit covers every batch they finished.
        await checkpoints.checkpoint_now()


def faust_waits_for_acks(app: faust.App) -> bool:
    """Whether Faust waits for every delivered event to be acknowledged: before it gives
    partitions up in a rebalance, and when the app stops (before its agents stop)."""
    return bool(app.rebalancing or app.should_stop)


def register(app: ScorerFaustApp, ctx: ScorerContext) -> None:
    ctx.backlog = lambda partition: input_backlog(app, ctx, partition)
    ctx.flush_changelog = app.producer.flush
    checkpoints = ctx.checkpoints

    @app.agent(ctx.lead_events, name="score-lead-events")
    async def score_lead_events(stream: faust.StreamT[bytes]) -> None:
        await score_batches(app, checkpoints, stream, ctx.handle_lead_batch)

    @app.agent(ctx.account_signals, name="fold-account-signals")
    async def fold_account_signals(stream: faust.StreamT[bytes]) -> None:
        await score_batches(app, checkpoints, stream, ctx.handle_account_batch)

    register_checkpoint_task(app, checkpoints)

    def forget_revoked_ledgers(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked = args[0] if args else kwargs.get("revoked", ())
        partitions = {tp.partition for tp in revoked}
        ctx.ledger.forget(partitions)
        ctx.action_ledger.forget(partitions)
        ctx.timer_index.forget(partitions)
        ctx.visitor_expiry_index.forget(partitions)
        # Written at the checkpoint Faust waited for; what the next assignment restores
        # from the changelogs must not be shadowed by older decoded copies.
        checkpoints.forget_decoded()

    # Faust's signal type wants a `BaseSignalT` keyword the receiver does not use.
    app.on_partitions_revoked.connect(forget_revoked_ledgers)  # type: ignore[arg-type]
    # After the agents stopped, not before: a batch finishing during shutdown publishes.
    app.after_shutdown.append(ctx.publisher.stop)
    app.after_shutdown.extend((ctx.timer_index.stop, ctx.visitor_expiry_index.stop))

    @app.timer(ctx.settings.redis_flush_interval_s)
    async def flush_read_model() -> None:
        # Only between rebalances: Faust never clears `completed` after the first
        # recovery, and a copy taken while a partition's changelog is still being read
        # would overwrite Redis with older states.
        tables: Any = app.tables

        def settled() -> bool:
            recovery = tables.recovery
            return recovery.completed.is_set() and not recovery.in_recovery and not app.rebalancing

        if settled():
            # Copies in slices for a while, the agents scoring in between; stops as soon
            # as a rebalance begins.
            await ctx.resync.step(assigned_partitions(app, ctx), settled)
        await ctx.read_model.flush()

    @app.timer(_READ_MODEL_CHECK_S)
    async def check_read_model() -> None:
        if await ctx.read_model.lost_data():
            log.warning("Redis lost the read model (restart, failover or flush): copying again")
            ctx.resync.restart("redis_lost")

    @app.timer(ctx.settings.timer_tick_interval_s)
    async def send_timer_ticks() -> None:
        # To this worker's own partitions only: the lead agent fires due timers there
        # (see timers.py). A tick reaching a partition after it moved on is harmless.
        for partition in sorted(assigned_partitions(app, ctx)):
            ctx.timer_ticks.send_soon(
                key=str(partition).encode(),
                value=orjson.dumps(timer_tick(partition, ctx.clock())),
                partition=partition,
            )

    stall_guard = StallGuard(stall_after_s=_STALL_AFTER_S, position_of=consumed_up_to)

    @app.timer(5.0)
    async def observe_worker() -> None:
        await guard_input_partitions(app, ctx, stall_guard)
        leads, accounts = ctx.table_sizes()
        ctx.metrics.leads_tracked.set(leads)
        ctx.metrics.accounts_tracked.set(accounts)
        observe_consumer(app, ctx)
        hot = await ctx.read_model.hot_leads()
        if hot is not None:
            ctx.metrics.hot_leads.set(hot)


def register_checkpoint_task(app: faust.App, checkpoints: Checkpointer) -> None:
    @app.task
    async def checkpoint_when_due() -> None:
        # The periodic checkpoint, written in slices with the agents scoring between
        # them (a checkpoint in one piece held every partition for up to 180 ms a
        # second; an alert waits for none of it, docs/alert-latency.md). Faust gives
        # partitions up (or stops) only once every started event is acknowledged (it
        # waits): so a whole checkpoint is also taken here as soon as a rebalance or a
        # stop starts. Revoked partitions' states are thus written and their offsets
        # committed before another worker takes them over, which then has nothing to
        # replay. Also while the app stops: it waits for the agents' events before they
        # stop.
        while True:
            await asyncio.sleep(_CHECKPOINT_POLL_S)
            if not checkpoints.pending:
                continue
            if faust_waits_for_acks(app):
                await checkpoints.checkpoint_now()
            elif checkpoints.due():
                await checkpoints.checkpoint_in_slices()


async def guard_input_partitions(app: faust.App, ctx: ScorerContext, guard: StallGuard) -> None:
    """Fetch again input partitions Faust stopped fetching (see workarounds/stall_guard.py)."""
    tables: Any = app.tables
    if app.rebalancing or tables.recovery.in_recovery:
        guard.forget()
        return
    consumer: Any = app.consumer
    inputs = {*ctx.lead_events.topics, ctx.account_signals.get_topic_name()}
    inputs.discard(ctx.timer_ticks.get_topic_name())
    tps = {tp for tp in consumer.assignment() if tp.topic in inputs}
    for tp in guard.stalled(consumer, tps, time.monotonic()):
        log.warning(
            "input partition not fetched for %.0f s: %s",
            guard.stall_after_s,
            describe(consumer, tp, consumed_up_to(consumer, tp)),
        )
        ctx.metrics.stalled_partitions.labels(tp.topic).inc()
        await refetch(consumer, tp)


def assigned_partitions(app: faust.App, ctx: ScorerContext) -> set[int]:
    """Partitions of the keyed topics this worker owns (co-partitioned: one set for all)."""
    consumer: Any = app.consumer
    topic = ctx.account_signals.get_topic_name()
    return {tp.partition for tp in consumer.assignment() if tp.topic == topic}


def input_backlog(app: faust.App, ctx: ScorerContext, partition: int) -> dict[str, int]:
    """Per lead input topic, the messages of `partition` the lead agent has not handled
    yet (topics it has nothing waiting on are left out).

    Not Faust's read offset: Faust reads ahead into the stream's buffer and hands the
    agent batches of up to 500 events, so a partition whose last messages are read but
    not scored would look caught up and fire its timers by the wall clock before them."""
    consumer: Any = app.consumer
    topics = ctx.lead_events.topics
    ticks = ctx.timer_ticks.get_topic_name()
    backlog: dict[str, int] = {}
    for tp in consumer.assignment():
        if tp.partition != partition or tp.topic == ticks or tp.topic not in topics:
            continue
        highwater = consumer.highwater(tp)
        if highwater is None:
            backlog[tp.topic] = 1  # not fetched yet: what waits there is unknown
            continue
        handled = ctx.handled_up_to.get((tp.topic, tp.partition), 0)
        waiting = highwater - max(handled, committed_start(consumer, tp))
        if waiting > 0:
            backlog[tp.topic] = waiting
    return backlog


def observe_consumer(app: faust.App, ctx: ScorerContext) -> None:
    consumer: Any = app.consumer
    assignment = consumer.assignment()
    ctx.metrics.assigned_partitions.set(len(assignment))
    ctx.metrics.consumer_lag.clear()  # partitions revoked since the last look disappear
    for tp in assignment:
        if "-changelog" in tp.topic:
            continue
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lag = highwater - consumed_up_to(consumer, tp)
            ctx.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, lag))
