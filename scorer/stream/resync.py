"""Bring the Redis read model back in line with the tables after an assignment.

The read model is written in batches on a timer, so it can miss writes the tables kept:
a worker killed after Faust committed its offsets (which flushes the changelog) but before
the next Redis flush leaves those leads' hashes stale, and no event will be processed
again to repair them; a Redis restarted without persistence comes back empty. So every
partition a worker is given is copied from its table to Redis once; and all of them
again when the worker finds that Redis lost its data (see `RedisReadModel.lost_data`).

The copy never holds the event loop for long: at 1M leads a worker copies ~1.1M states,
each decoded and scored (~0.5 ms), and a fixed 2,000 states per read-model flush held
the loop ~1 s per flush for ~10 minutes after a restart, starving the agents
(docs/benchmark.md). It is now copied in time-boxed slices (`SLICE_S`) with the agents
let in between, for at most `STEP_S` per read-model flush, and only while the tables
are settled (no rebalance, no recovery). A state is decoded for it without being kept
among the decoded hot keys.

A copy never overwrites newer data: each state is read when it is staged, as the newest
the cache holds (changed, or the table's), and the agents write the cache before they
stage the same state, so a state they change later is staged after the copy's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from scorer.core.account import AccountState
from scorer.core.lead_state import LeadState
from scorer.core.rules import Rules
from scorer.serving.read_model import RedisReadModel
from scorer.stream.state_cache import StateCache
from scorer.stream.views import account_fields, staged_lead

log = logging.getLogger(__name__)

SLICE_S = 0.05  # longest the copy holds the event loop at a time (the agents' own bound)
STEP_S = 0.5  # longest a step copies (in slices) before the read model is flushed


@dataclass(slots=True)
class _Copy:
    partition: int
    states: Iterator[LeadState | AccountState]
    started: float
    copied: int = 0


@dataclass(slots=True)
class ReadModelResync:
    lead_table: StateCache[LeadState]
    account_table: StateCache[AccountState]
    rules: Rules
    read_model: RedisReadModel
    partitions: int
    clock: Callable[[], float]  # the wall clock the staged views are computed at
    timer: Callable[[], float] = time.perf_counter  # what the slices are timed with
    _synced: set[int] = field(default_factory=set)
    _copies: dict[int, _Copy] = field(default_factory=dict)
    _cause: str = "assignment"

    def restart(self, cause: str) -> None:
        """Copy every assigned partition again, from the next step on."""
        self._synced.clear()
        self._copies.clear()
        self._cause = cause

    @property
    def copying(self) -> list[int]:
        return sorted(self._copies)

    async def step(self, assigned: set[int], settled: Callable[[], bool] = lambda: True) -> int:
        """Start copying newly assigned partitions, then copy in slices (the agents let
        in between) for up to STEP_S while `settled()`; how many states were staged."""
        self._synced &= assigned  # a partition given back and later regained is copied again
        for partition in [p for p in self._copies if p not in assigned]:
            del self._copies[partition]
        new = assigned - self._synced
        if new:
            self._synced |= new
            for partition in sorted(new):
                self._copies[partition] = _Copy(partition, self._states(partition), self.timer())
            log.info("read model: copying partitions %s (%s)", sorted(new), self._cause)
            self.read_model.metrics.read_model_resyncs.labels(self._cause).inc()
            self._cause = "assignment"
        staged = 0
        until = self.timer() + STEP_S
        while self._copies and settled():
            try:
                staged += self._slice()
            except RuntimeError as exc:
                if "changed size" not in str(exc):
                    raise
                # Faust's RocksDB store lists its open databases in a dict, which changes
                # when a rebalance opens one: copy the partitions again (harmless: each
                # state is read as it is staged).
                log.info("read model: copying partitions %s again (%s)", self.copying, exc)
                for partition, copy in self._copies.items():
                    copy.states = self._states(partition)
            if self.timer() >= until:
                break
            await asyncio.sleep(0)
        return staged

    def _states(self, partition: int) -> Iterator[LeadState | AccountState]:
        """The newest state of every lead and account the partition owns, read lazily
        (decoded when needed, not kept among the cache's decoded hot keys)."""
        for cache in (self.lead_table, self.account_table):
            decode = cache.codec.decode
            for _, raw, state in cache.partition_records(partition):
                if state is not None:
                    yield state
                elif raw is not None:
                    try:
                        decoded = decode(raw)
                    except (ValueError, KeyError, TypeError) as exc:
                        # Neither the key nor the message: either may hold personal data.
                        log.warning(
                            "read model: a record of partition %d unreadable (%s)",
                            partition, type(exc).__name__,
                        )  # fmt: skip
                        continue
                    yield decoded

    def _slice(self) -> int:
        """Stage states for up to SLICE_S, partition after partition; how many."""
        until = self.timer() + SLICE_S
        now = self.clock()
        staged = 0
        for partition, copy in list(self._copies.items()):
            for state in copy.states:
                if isinstance(state, LeadState):
                    # was_hot: the ranking in Redis may hold it, whatever the table says.
                    lead = staged_lead(state, self.rules, now, was_hot=True)
                    self.read_model.stage_lead(state.lead_id, lead)
                else:
                    fields = account_fields(state, self.rules, now)
                    self.read_model.stage_account(state.account_id, fields)
                copy.copied += 1
                staged += 1
                if staged % 16 == 0 and self.timer() >= until:
                    return staged
            del self._copies[partition]
            log.info(
                "read model: partition %d copied (%d states in %.1f s)",
                partition, copy.copied, self.timer() - copy.started,
            )  # fmt: skip
        return staged
