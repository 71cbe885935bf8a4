"""Bring the Redis read model back in line with the tables after an assignment.

The read model is written in batches on a timer, so it can miss writes the tables kept:
a worker killed after Faust committed its offsets (which flushes the changelog) but before
the next Redis flush leaves those leads' hashes stale, and no event will be processed
again to repair them; a Redis restarted without persistence comes back empty. So every
partition a worker is given is copied from its table to Redis once, a chunk per flush so
that scoring never waits for it; and all of them again when the worker finds that Redis
lost its data (see `RedisReadModel.lost_data`). A copy never overwrites newer data: it is
read from the table when staged, and the agents write the table before they stage the
same state.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scorer.core.rules import Rules
from scorer.serving.read_model import RedisReadModel
from scorer.stream.partitioning import owner_partition
from scorer.stream.views import account_fields, staged_lead

log = logging.getLogger(__name__)

CHUNK = 2000  # states per flush: a few ms of work, so the agents hardly notice


@dataclass(slots=True)
class ReadModelResync:
    lead_table: Any
    account_table: Any
    rules: Rules
    read_model: RedisReadModel
    partitions: int
    clock: Callable[[], float]
    _synced: set[int] = field(default_factory=set)
    _queue: deque[tuple[str, bytes]] = field(default_factory=deque)
    _cause: str = "assignment"

    def restart(self, cause: str) -> None:
        """Copy every assigned partition again, from the next step on."""
        self._synced.clear()
        self._queue.clear()
        self._cause = cause

    def step(self, assigned: set[int]) -> int:
        """Queue newly assigned partitions, stage the next chunk; how many were staged."""
        self._synced &= assigned  # a partition given back and later regained is copied again
        new = assigned - self._synced
        if new:
            self._synced |= new
            for kind, table in (("lead", self.lead_table), ("account", self.account_table)):
                self._queue.extend(
                    (kind, key)
                    for key in list(table.keys())
                    if owner_partition(key, self.partitions) in new
                )
            log.info(
                "read model: copying %d states of partitions %s (%s)",
                len(self._queue), sorted(new), self._cause,
            )  # fmt: skip
            self.read_model.metrics.read_model_resyncs.labels(self._cause).inc()
            self._cause = "assignment"
        return self._stage_chunk()

    def _stage_chunk(self) -> int:
        now = self.clock()
        staged = 0
        while self._queue and staged < CHUNK:
            kind, key = self._queue.popleft()
            if kind == "lead":
                lead = self.lead_table.get(key)
                if lead is not None:
                    # was_hot: the ranking in Redis may hold it, whatever the table says.
                    self.read_model.stage_lead(
                        lead.lead_id, staged_lead(lead, self.rules, now, was_hot=True)
                    )
            else:
                account = self.account_table.get(key)
                if account is not None:
                    self.read_model.stage_account(
                        account.account_id, account_fields(account, self.rules, now)
                    )
            staged += 1
        return staged
