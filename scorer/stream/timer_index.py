"""The due-timer index of a partition, built from its table in slices (see timers.py).

(The same builder, given a table and how to read a due time, builds any `DueIndex`.)

At a partition's first tick the index must learn every lead of the partition with a
pending timer. At 1M leads that is ~250,000 states per partition: decoded in one go it
held the event loop for minutes after a restart (the worker answered neither events nor
`/ready`, docs/benchmark.md). So the build reads the table a time-boxed slice at a time
(`slice_s`, the agents' own `_YIELD_AFTER_S`), the first slice in the tick itself (a
small table is built there, as before) and the rest in a task that lets the agents and
the web server in between slices. A state is not decoded for it: the next due time is
read from the record's `timers` (`codecs.lead_next_due`).

Exact while partial, because an index entry is only a promise to look (`DueIndex`):
the index exists from the build's start, so every state the agent writes from then on
sets its wake-up (the earlier of the two is kept); the states changed before and not yet
written to the table are read from the cache first; everything else is in the table,
which the build reads through the cache (the newest state of a key). A tick fires what
the index holds so far, each firing from the newest state through the core's
`fire_due`, so a timer fires once: a wake-up set from an older state finds nothing due
and is set again. A lead whose event comes before the build reached it fires its due
timers at that event, as always (`handlers._score_event`). What a partial index delays
is only the firing of timers of leads without events, until the build reaches them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from scorer.stream.state_cache import StateCache
from scorer.stream.timers import DueIndex

log = logging.getLogger(__name__)

S = TypeVar("S")


@dataclass(slots=True)
class _Build:
    partition: int
    keys: Iterator[tuple[bytes, float | None]]
    started: float
    read: int = 0


@dataclass(slots=True, kw_only=True)
class TimerIndexBuilder(Generic[S]):
    """Builds a `DueIndex` per partition from a table, a slice at a time."""

    index: DueIndex
    states: StateCache[S]
    # How a due time is read: from a table value (without building the state where the
    # record allows), from a decoded state.
    due_of_value: Callable[[bytes], float | None]
    due_of_state: Callable[[S], float | None]
    slice_s: float = 0.05
    clock: Callable[[], float] = time.perf_counter
    what: str = "timers"  # for the log lines
    _builds: dict[int, _Build] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def is_complete(self, partition: int) -> bool:
        return self.index.is_built(partition) and partition not in self._builds

    @property
    def building(self) -> list[int]:
        return sorted(self._builds)

    def advance(self, partition: int) -> None:
        """Called at a tick of the partition: start its build if there is none (one
        slice now, the rest in the background)."""
        if self.index.is_built(partition):
            return
        self.index.start(partition)
        build = _Build(partition, self._dues(partition), self.clock())
        self._builds[partition] = build
        if self._slice(build):
            self._ensure_task()

    def forget(self, partitions: set[int]) -> None:
        """Revoked partitions: their builds stop (a later assignment starts afresh)."""
        for partition in partitions:
            self._builds.pop(partition, None)
        self.index.forget(partitions)

    async def stop(self) -> None:
        """Stop building (the worker stops: its agents have stopped)."""
        self._builds.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _dues(self, partition: int) -> Iterator[tuple[bytes, float | None]]:
        """(key, next due time) of the partition's keys: the newest state's when the
        cache holds one (changed, or decoded), else read from the table's record."""
        due_of_value, due_of_state = self.due_of_value, self.due_of_state
        for key, raw, state in self.states.partition_records(partition):
            if state is not None:
                yield key, due_of_state(state)
            elif raw is not None:
                try:
                    due = due_of_value(raw)
                except (ValueError, KeyError, TypeError) as exc:
                    # Neither the key nor the message: either may hold personal data.
                    name = type(exc).__name__
                    log.warning(
                        "%s of partition %d: a record unreadable (%s)", self.what, partition, name
                    )
                    continue
                yield key, due

    def _slice(self, build: _Build) -> bool:
        """Index one slice of the build; whether more remains."""
        until = self.clock() + self.slice_s
        index, partition, keys = self.index, build.partition, build.keys
        read = 0
        for key, due in keys:
            index.set(partition, key, due)
            read += 1
            if read % 64 == 0 and self.clock() >= until:
                build.read += read
                return True
        build.read += read
        if self._builds.get(partition) is build:
            del self._builds[partition]
        log.info(
            "%s of partition %d: %d keys read, index built in %.1f s",
            self.what, partition, build.read, self.clock() - build.started,
        )  # fmt: skip
        return False

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._builds:
            await asyncio.sleep(0)  # the agents, the web server and the timers go first
            for build in list(self._builds.values()):
                if self._builds.get(build.partition) is not build:
                    continue  # forgotten (revoked) meanwhile
                try:
                    self._slice(build)
                except RuntimeError as exc:
                    if "changed size" not in str(exc):
                        raise
                    # Faust's RocksDB store lists its open databases in a dict, which
                    # changes when a rebalance opens one: read the partition again (what
                    # is indexed stays; a wake-up read twice is the earlier of the two).
                    log.info("%s of partition %d: read again (%s)", self.what, build.partition, exc)
                    build.keys = self._dues(build.partition)
                except Exception:  # (a RuntimeError other than the above included)
                    # A bug must not leave the partition without timers silently.
                    log.exception(
                        "%s of partition %d: index build failed", self.what, build.partition
                    )
                    self._builds.pop(build.partition, None)
                    self.index.forget({build.partition})
                await asyncio.sleep(0)
