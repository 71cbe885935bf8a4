"""When the caches' changes are written, and when the events they cover are acknowledged.

A `Checkpointer` checkpoint writes every `StateCache`'s changes (state_cache.py says what
a write guarantees), waits until the broker acknowledged their changelog records, and
only then acknowledges the events those states cover; hand-off outputs (alerts,
actions) are acknowledged before the states recording them are written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from faust.types import EventT

from scorer.stream.state_cache import StateCache
from scorer.stream.workarounds.deferred_acks import hold_ack, release_ack

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Checkpointer:
    """Writes the caches' changes, then acknowledges the events they cover.

    An agent holds its batch's events (`hold`) before handling them, so Faust does not
    acknowledge them when the batch ends, and hands them back (`finished`) once the
    batch's states are in the caches. Only states of finished batches are written, and
    only once the hand-off outputs started so far are acknowledged (`publish_then`), so
    an alert is always acknowledged by the broker before the state recording it is.
    `checkpoint_in_slices` is the periodic checkpoint (`interval_s` since the last): it
    writes in slices of at most `slice_s` and lets the agents score between them, so a
    checkpoint never holds every partition's events for its whole length (writing a
    second's changes took 80-180 ms at 1,000 events/s, docs/alert-latency.md).
    `checkpoint` writes everything at once: when Faust takes partitions away (it waits
    for every started event to be acknowledged before it gives them up) and when an
    agent stops.
    """

    caches: Sequence[StateCache[Any]]
    interval_s: float
    clock: Callable[[], float] = time.monotonic
    on_checkpoint: Callable[[int, int, float], None] = lambda keys, events, seconds: None
    slice_s: float = 0.005
    # The newest batch's hand-off publishing (alerts, actions), each awaiting the one
    # before it: see `publish_then`.
    _publishing: asyncio.Future[None] | None = None
    _finished: list[EventT[Any]] = field(default_factory=list)
    # Finished before the checkpoint in slices began: acknowledged once it has written.
    _acking: list[EventT[Any]] = field(default_factory=list)
    _last: float | None = None  # the first checkpoint: an interval after the first look

    def hold(self, events: Iterable[EventT[Any]]) -> None:
        for event in events:
            hold_ack(event)

    def finished(self, events: Iterable[EventT[Any]]) -> None:
        self._finished.extend(events)

    def due(self) -> bool:
        now = self.clock()
        if self._last is None:
            self._last = now
        return now - self._last >= self.interval_s

    @property
    def pending(self) -> bool:
        """Whether a checkpoint would write or acknowledge anything."""
        return bool(self._finished or self._acking) or any(cache.changed for cache in self.caches)

    def forget_decoded(self) -> None:
        for cache in self.caches:
            cache.forget_decoded()

    async def publish_then(self, publish: Coroutine[Any, Any, None]) -> None:
        """Publish a batch's hand-off outputs (alerts, actions) while the agent goes on.

        A batch's alerts must be acknowledged by the broker before the state recording
        them is written, not before the next batch is scored: its states go into the
        caches at once, and every write of the caches (a checkpoint, an erasure's or an
        identity link's) first awaits `outputs_acknowledged`. One batch's outputs are in
        flight at a time: the next batch with outputs first waits for them (batches
        publish in order, and a broker that does not answer stalls the agent there, as
        when every batch awaited its own).
        """
        await self.outputs_acknowledged()
        self._publishing = asyncio.ensure_future(publish)

    async def outputs_acknowledged(self) -> None:
        """Wait until every hand-off output started so far is acknowledged (then no
        await may come before the write that needs it)."""
        while self._publishing is not None:
            publishing = self._publishing
            await asyncio.wait([publishing])
            if self._publishing is publishing:
                self._publishing = None
                _log_failure(publishing)

    async def checkpoint_now(self) -> None:
        """A whole checkpoint as soon as the hand-off outputs started are acknowledged."""
        await self.outputs_acknowledged()
        await self.checkpoint()

    async def checkpoint(self) -> None:
        """Write every cache's changes and take the finished events (no await in
        between: their states are all written), with those a checkpoint in slices still
        had to acknowledge (their states are written now too); wait until the broker
        acknowledged the changelog records, then acknowledge the events. The caller
        awaits `outputs_acknowledged` first (`checkpoint_now`). The time reported is the
        time the writes held the loop."""
        if self._publishing is not None and not self._publishing.done():
            raise RuntimeError("checkpoint while hand-off outputs are unacknowledged")
        started = self.clock()
        self._last = started
        keys = sum(cache.write_changes() for cache in self.caches)
        finished = [*self._acking, *self._finished]
        self._acking, self._finished = [], []
        held = self.clock() - started
        await self._changelogs_acknowledged()
        for event in finished:
            release_ack(event)
        if keys or finished:
            self.on_checkpoint(keys, len(finished), held)

    async def _changelogs_acknowledged(self) -> None:
        """Every changelog record written so far acknowledged (those of a checkpoint in
        slices still in flight too: the events this one acknowledges may need them)."""
        await asyncio.gather(*(cache.changes_acknowledged() for cache in self.caches))

    async def checkpoint_in_slices(self) -> None:
        """Take every cache's changes and the finished events, write the changes a slice
        at a time with the event loop let in between, then acknowledge the events.

        Between slices the agents go on: what they change waits for the next
        checkpoint, reads see the changes being written, and a `checkpoint` meanwhile
        writes the rest at once (a key's records stay in order). The events are
        acknowledged once the broker acknowledged the changelog records (the agents go
        on meanwhile too). An alert is still acknowledged before the state recording it
        is written: only states of finished batches are taken, once their hand-off
        outputs are acknowledged. The time reported is the time the slices held the loop.
        """
        await self.outputs_acknowledged()
        self._last = self.clock()
        self._acking.extend(self._finished)
        self._finished = []
        keys = sum(cache.take_changes() for cache in self.caches)
        held = 0.0
        while True:
            started = self.clock()
            until = started + self.slice_s
            for cache in self.caches:
                while cache.taken and self.clock() < until:
                    cache.write_taken(until, self.clock)
            held += self.clock() - started
            if not any(cache.taken for cache in self.caches):
                break
            await asyncio.sleep(0)
        await self._changelogs_acknowledged()
        finished, self._acking = self._acking, []
        for event in finished:
            release_ack(event)
        if keys or finished:
            self.on_checkpoint(keys, len(finished), held)


def _log_failure(publishing: asyncio.Future[None]) -> None:
    """The handlers' publishing never raises (a batch it could not finish is
    dead-lettered); a bug that slips through is logged, not silently dropped."""
    if not publishing.cancelled() and (failed := publishing.exception()) is not None:
        log.error("hand-off publishing failed: %s", type(failed).__name__)
