"""Redis read model: current lead and account scores, and hot-lead rankings.

The state tables are the truth; this is a copy for fast reads by sales tools. Updates
are staged in memory (latest per key wins) and flushed in one pipeline per interval, so
no event waits for Redis. When Redis is down the staged records are kept, the error
counter moves, and the next successful flush catches up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from scorer.serving.metrics import ScorerMetrics

log = logging.getLogger(__name__)

Fields = Mapping[str, str | int | float]

# A worker's marker outlives a day without a check only if the worker is gone.
MARKER_TTL_S = 86_400


@dataclass(slots=True)
class StagedLead:
    fields: Fields
    account_id: str | None
    team: str | None
    hot: bool
    was_hot: bool  # before this update: decides whether the rankings need touching
    score: float


@dataclass(slots=True)
class RedisReadModel:
    redis: Redis
    prefix: str
    metrics: ScorerMetrics
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _leads: dict[str, StagedLead] = field(default_factory=dict)
    _accounts: dict[str, Fields] = field(default_factory=dict)
    # Erased leads: lead id -> the sorted sets that may rank it.
    _erased: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _marked: bool = False

    @property
    def marker_key(self) -> str:
        return f"{self.prefix}read-model:worker:{self.run_id}"

    async def lost_data(self) -> bool:
        """Whether Redis lost what this worker wrote since the last check.

        Each worker keeps a marker key of its own (its run id) in Redis: set on the first
        check, and found again on every later one unless Redis came back without its
        data (a restart without persistence, a failover to an empty replica, FLUSHALL or
        FLUSHDB). One round trip; False when Redis does not answer (an outage is counted
        by the flushes, and its end is judged by the next check).
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.marker_key, "1", nx=True, ex=MARKER_TTL_S)
        pipe.expire(self.marker_key, MARKER_TTL_S)
        try:
            created, _ = await pipe.execute()
        except (RedisError, OSError):
            return False
        lost = bool(created) and self._marked
        self._marked = True
        return lost

    def lead_key(self, lead_id: str) -> str:
        return f"{self.prefix}lead:{lead_id}"

    def account_key(self, account_id: str) -> str:
        return f"{self.prefix}account:{account_id}"

    def stage_lead(self, lead_id: str, staged: StagedLead) -> None:
        self._leads[lead_id] = staged

    def stage_account(self, account_id: str, fields: Fields) -> None:
        self._accounts[account_id] = fields

    def stage_lead_erasure(self, lead_id: str, account_id: str | None, teams: set[str]) -> None:
        """Delete the lead's hash and its entries in every ranking that may hold it.

        Deletions go first in the next flush, so a fresh lead staged after the erasure
        (a later event of the same id) is written after them.
        """
        self._leads.pop(lead_id, None)
        rankings = [f"{self.prefix}hot-leads"]
        if account_id:
            rankings.append(f"{self.prefix}account:{account_id}:hot-leads")
        rankings.extend(f"{self.prefix}team:{team}:hot-leads" for team in sorted(teams))
        self._erased[lead_id] = tuple(rankings)

    @property
    def pending(self) -> int:
        return len(self._leads) + len(self._accounts) + len(self._erased)

    async def flush(self) -> None:
        if not self._leads and not self._accounts and not self._erased:
            return
        if not self._marked:
            # The marker goes in before the first data, so that losing the data loses it.
            await self.lost_data()
        leads, self._leads = self._leads, {}
        accounts, self._accounts = self._accounts, {}
        erased, self._erased = self._erased, {}
        pipe = self.redis.pipeline(transaction=False)
        for lead_id, rankings in erased.items():
            pipe.delete(self.lead_key(lead_id))
            for name in rankings:
                pipe.zrem(name, lead_id)
        for lead_id, staged in leads.items():
            pipe.hset(self.lead_key(lead_id), mapping=dict(staged.fields))  # type: ignore[arg-type]
            self._rank(pipe, lead_id, staged)
        for account_id, fields in accounts.items():
            pipe.hset(self.account_key(account_id), mapping=dict(fields))  # type: ignore[arg-type]
            pipe.zadd(f"{self.prefix}accounts:by-score", {account_id: float(fields["score"])})
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            self.metrics.redis_write_errors.inc()
            log.warning("Redis flush failed (%s); %d records kept", type(exc).__name__, len(leads))
            # Newer staged values win over the ones that failed to go out.
            self._leads = leads | self._leads
            self._accounts = accounts | self._accounts
            # Still due; a fresh lead staged meanwhile is written after it in the next flush.
            self._erased = erased | self._erased
            return
        self.metrics.redis_writes.inc(len(leads) + len(accounts))

    async def hot_leads(self) -> int | None:
        """Size of the global hot-lead ranking, or None when Redis does not answer."""
        try:
            return int(await self.redis.zcard(f"{self.prefix}hot-leads"))
        except (RedisError, OSError):
            return None

    def _rank(self, pipe: object, lead_id: str, staged: StagedLead) -> None:
        # Most leads are and stay cold: leave the rankings alone for them.
        if not staged.hot and not staged.was_hot:
            return
        sets = [f"{self.prefix}hot-leads"]
        if staged.account_id:
            sets.append(f"{self.prefix}account:{staged.account_id}:hot-leads")
        if staged.team:
            sets.append(f"{self.prefix}team:{staged.team}:hot-leads")
        for name in sets:
            if staged.hot:
                pipe.zadd(name, {lead_id: staged.score})  # type: ignore[attr-defined]
            else:
                pipe.zrem(name, lead_id)  # type: ignore[attr-defined]
